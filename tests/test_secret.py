"""`redis-scaffold secret ensure`, against moto in server mode over HTTP.

A service team generates its repository and runs the hook: the secret appears once,
re-runs never touch the value, drift in tags is mended, and every way it can fail ends
with one clear paragraph and its own exit code. The password is never shown.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from redis_scaffold import cli
from redis_scaffold.service.secret import ORIGIN_TAG
from tests.fixtures.aws import assert_absent

NAME = "shopping-cart-redis"


@pytest.fixture
def project(generate):
    return generate()


def hook(*args: str) -> subprocess.CompletedProcess:
    """The real command, as a user or a pipeline runs it."""
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "secret", "ensure", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def hook_in_process(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["secret", "ensure", *args])
    out, err = capsys.readouterr()
    return code, out, err


def tags_of(client, name: str = NAME) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.describe_secret(SecretId=name).get("Tags", [])}


def describe(client, name: str = NAME) -> dict:
    response = client.describe_secret(SecretId=name)
    response.pop("ResponseMetadata")
    return response


def one_paragraph(err: str) -> bool:
    return (
        err.count("\n") == 1
        and err.startswith("redis-scaffold secret ensure: ")
        and "Traceback" not in err
    )


def test_the_hook_creates_the_secret_once_and_never_touches_the_value_again(project, aws_env):
    client = aws_env.client()

    planned = hook(str(project), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "would create" in planned.stdout
    assert client.list_secrets()["SecretList"] == []  # a dry run writes nothing

    created = hook(str(project))
    assert created.returncode == 0, created.stderr
    assert f"secret {NAME}: created" in created.stdout
    first = client.get_secret_value(SecretId=NAME)
    password = json.loads(first["SecretString"])["db-password"]
    assert len(password) >= 32 and password.isalnum()
    assert tags_of(client) == {
        "service": "shopping-cart",
        "owner": "group:default/platform-team",
        "managed-by": "terraform",
        ORIGIN_TAG: "hook",
    }
    assert (
        client.describe_secret(SecretId=NAME)["Description"]
        == "Redis Sentinel for the shopping-cart service"
    )

    again = hook(str(project))
    assert again.returncode == 0, again.stderr
    assert f"secret {NAME}: exists" in again.stdout and "value left untouched" in again.stdout
    second = client.get_secret_value(SecretId=NAME)
    assert second["SecretString"].encode() == first["SecretString"].encode()
    assert second["VersionId"] == first["VersionId"]

    for run, where in (
        (planned, "--dry-run"),
        (created, "the creating run"),
        (again, "the re-run"),
    ):
        assert_absent(password, run.stdout + run.stderr, f"the output of {where}")


def test_drift_in_tags_and_description_is_mended_and_a_dry_run_only_reports_it(
    project, aws_env, capsys, caplog
):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="redis_scaffold")
    client = aws_env.client()
    code, created, _ = hook_in_process(capsys, str(project))
    assert code == 0
    value = client.get_secret_value(SecretId=NAME)["SecretString"]
    password = json.loads(value)["db-password"]
    # Someone edits the secret by hand in the console.
    client.tag_resource(
        SecretId=NAME,
        Tags=[
            {"Key": "owner", "Value": "group:default/someone-else"},
            {"Key": "cost-center", "Value": "42"},
        ],
    )
    client.untag_resource(SecretId=NAME, TagKeys=["service"])
    client.update_secret(SecretId=NAME, Description="hand edited")
    edited = describe(client)

    code, out, _ = hook_in_process(capsys, str(project), "--dry-run")
    assert code == 0
    assert (
        "would mend: description" in out
        and "would mend: tag owner" in out
        and "would mend: tag service" in out
    )
    assert describe(client) == edited

    code, out, _ = hook_in_process(capsys, str(project))
    assert code == 0 and "mended: tag owner" in out
    assert tags_of(client) == {
        "service": "shopping-cart",
        "owner": "group:default/platform-team",
        "managed-by": "terraform",
        ORIGIN_TAG: "hook",
        "cost-center": "42",  # a tag of someone else's is kept
    }
    assert (
        client.describe_secret(SecretId=NAME)["Description"]
        == "Redis Sentinel for the shopping-cart service"
    )
    assert client.get_secret_value(SecretId=NAME)["SecretString"] == value
    assert_absent(password, created + out + caplog.text, "the hook's output or log records")


@pytest.mark.parametrize(
    "planted, reason",
    [
        ("PLANTED-not-json-PLANTED", "not a JSON object"),
        (
            json.dumps({"password": "PLANTED-wrong-key-PLANTED"}),
            "no non-empty string under key 'db-password'",
        ),
    ],
    ids=["not-json", "missing-key"],
)
def test_an_existing_value_the_apps_cannot_read_is_refused_and_left_alone(
    project, aws_env, capsys, planted, reason
):
    client = aws_env.client()
    client.create_secret(Name=NAME, SecretString=planted)
    code, out, err = hook_in_process(capsys, str(project))
    assert code == 15
    assert one_paragraph(err) and reason in err
    assert "PLANTED" not in out + err
    assert client.get_secret_value(SecretId=NAME)["SecretString"] == planted


def test_a_value_from_before_rotation_gets_the_empty_previous_key_and_keeps_its_password(
    project, aws_env, capsys
):
    """A secret made by an earlier release holds {KEY: password} alone; both deliveries now
    read "<KEY>_previous" too, so ensure adds it, empty, as a new AWSCURRENT version."""
    client = aws_env.client()
    client.create_secret(Name=NAME, SecretString=json.dumps({"db-password": "PLANTED-pw-PLANTED"}))
    code, out, err = hook_in_process(capsys, str(project))
    assert code == 0, err
    assert "empty 'db-password_previous' added" in out and "PLANTED" not in out + err
    value = client.get_secret_value(SecretId=NAME, VersionStage="AWSCURRENT")["SecretString"]
    assert json.loads(value) == {"db-password": "PLANTED-pw-PLANTED", "db-password_previous": ""}
    stages = client.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    assert sorted(map(sorted, stages.values())) == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    code, out, _ = hook_in_process(capsys, str(project))  # once only
    assert code == 0 and "value left untouched" in out and "added" not in out


def test_a_secret_scheduled_for_deletion_is_reported_not_recreated(project, aws_env, capsys):
    client = aws_env.client()
    assert hook_in_process(capsys, str(project))[0] == 0
    client.delete_secret(SecretId=NAME, RecoveryWindowInDays=7)
    code, _, err = hook_in_process(capsys, str(project))
    assert code == 14
    assert one_paragraph(err) and "scheduled for deletion" in err and "restore-secret" in err


def test_no_credentials(project, aws_env, monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    # The rest of the chain is already cut: config files are /dev/null, metadata is off.
    code, _, err = hook_in_process(capsys, str(project))
    assert code == 11
    assert one_paragraph(err) and "No AWS credentials" in err


def test_unreachable_endpoint_fails_fast_with_its_own_code(project, aws_env, monkeypatch, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # bound, never listening: connections are refused
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
        code, _, err = hook_in_process(capsys, str(project))
    assert code == 13
    assert one_paragraph(err) and "could not be reached" in err and f"127.0.0.1:{closed}" in err


@pytest.fixture
def iam_enforcing_moto(tmp_path):
    """A separate moto server that checks IAM after its first two requests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "2"}
    with open(tmp_path / "moto.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the IAM-enforcing moto server did not start:\n{(tmp_path / 'moto.log').read_text()}"
                    )
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_access_denied(project, aws_env, iam_enforcing_moto, monkeypatch, capsys):
    iam = boto3.session.Session(region_name="us-east-1").client(
        "iam", endpoint_url=iam_enforcing_moto
    )
    iam.create_user(UserName="no-rights")  # request 1 of the two unchecked ones
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]  # request 2
    monkeypatch.setenv("AWS_ENDPOINT_URL", iam_enforcing_moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    code, _, err = hook_in_process(capsys, str(project))
    assert code == 12, err
    assert (
        one_paragraph(err)
        and "AWS refused DescribeSecret" in err
        and "secretsmanager:DescribeSecret" in err
    )


def test_a_directory_that_is_not_a_generated_project_is_refused(tmp_path, aws_env, capsys):
    code, _, err = hook_in_process(capsys, str(tmp_path))
    assert code == 16
    assert one_paragraph(err) and "terraform.tfvars.json does not exist" in err


# ------------------------------------------------- secret rotate --from-env (the CronJob)
RUNNER_ENV = {
    "REDIS_SECRET_NAME": NAME,
    "REDIS_SECRET_KEY": "db-password",
    "REDIS_SECRET_REGION": "us-east-1",
    "PEER_HOSTS": "a.example b.example c.example",
    "REDIS_PORT": "6379",
    "SENTINEL_PORT": "26379",
    "MASTER_SET": "shopping-cart-redis",
}


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([], RUNNER_ENV, "give either PROJECT_DIR"),
        (["PROJECT", "--from-env"], RUNNER_ENV, "give either PROJECT_DIR"),
        (["--from-env"], {}, "REDIS_SECRET_NAME, REDIS_SECRET_KEY, REDIS_SECRET_REGION"),
        (["--from-env"], RUNNER_ENV | {"PEER_HOSTS": " "}, "--from-env: PEER_HOSTS not set"),
        (["--from-env"], RUNNER_ENV | {"MASTER_SET": ""}, "--from-env: MASTER_SET not set"),
        (["--from-env"], RUNNER_ENV | {"REDIS_PORT": "70000"}, "REDIS_PORT must be a port"),
        (
            ["--from-env"],
            RUNNER_ENV | {"REDIS_TLS": "true"},
            "TLS is on (REDIS_TLS): give the CA",
        ),
    ],
    ids=["neither", "both", "nothing-set", "no-hosts", "no-master-set", "bad-port", "tls-no-ca"],
)
def test_rotate_from_env_refuses_what_the_cronjob_did_not_set_before_any_call(
    tmp_path, aws_env, monkeypatch, capsys, args, env, says
):
    for name in [*RUNNER_ENV, "REDIS_TLS", "REDIS_TLS_CA_FILE"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = [str(tmp_path) if a == "PROJECT" else a for a in args]
    assert cli.main(["secret", "rotate", *args]) == 2
    _, err = capsys.readouterr()
    assert says in err and err.count("\n") == 1, err
    assert err.startswith("redis-scaffold secret rotate: ") and "Traceback" not in err
    assert aws_env.client().list_secrets()["SecretList"] == []  # nothing was called


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_rotate_wait_and_poll_take_positive_seconds(capsys, value):
    with pytest.raises(SystemExit) as exited:
        cli.main(["secret", "rotate", "--from-env", "--wait", value])
    assert exited.value.code == 2
    assert "must be a number of seconds above 0" in capsys.readouterr().err
