"""The generated Terraform, run for real: offline through the provider mirror, and
applied against the AWS emulator, alone and after the `secret ensure` hook."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from tests.fixtures.aws import assert_absent

pytestmark = pytest.mark.slow

TF_FILES = {
    "versions.tf",
    "variables.tf",
    "secret.tf",
    "iam.tf",
    "outputs.tf",
    "terraform.tfvars.json",
}


def secret_value(aws_env, name: str) -> tuple[str, str]:
    """(SecretString, VersionId) straight from the emulator. Never print them."""
    response = aws_env.client().get_secret_value(SecretId=name)
    return response["SecretString"], response["VersionId"]


def secret_ensure(project) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "secret", "ensure", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def tfvars_of(project) -> dict:
    return json.loads((project / "terraform" / "terraform.tfvars.json").read_text())


def test_generated_terraform_with_a_kms_key_is_formatted_and_valid(generate, terraform):
    project = generate(
        {
            "service_name": "billing",
            "kms_key_id": "alias/billing-redis",
            "secret_recovery_window_days": 0,
        }
    )
    assert TF_FILES <= {p.name for p in (project / "terraform").iterdir()}
    assert tfvars_of(project) == {
        "region": "us-east-1",
        "secret_name": "billing-redis",
        "secret_key": "db-password",
        "description": "Redis Sentinel for the billing service",
        "kms_key_id": "alias/billing-redis",
        "recovery_window_in_days": 0,
        "tags": {
            "service": "billing",
            "owner": "group:default/platform-team",
            "managed-by": "terraform",
        },
    }
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.init()
    assert "The configuration is valid" in tf("validate").stdout


def test_terraform_alone_creates_the_secret_and_keeps_the_password_out_of_state(
    generate, terraform, aws_env
):
    # A team that keeps its state in S3, as the README recommends.
    project = generate({"state_bucket": "acme-terraform-state", "state_region": "us-east-1"})
    assert TF_FILES | {"backend.tf"} <= {p.name for p in (project / "terraform").iterdir()}
    assert tfvars_of(project)["kms_key_id"] == ""
    backend = (project / "terraform/backend.tf").read_text()
    assert 'bucket       = "acme-terraform-state"' in backend
    assert 'key          = "redis/shopping-cart/terraform.tfstate"' in backend
    assert "use_lockfile = true" in backend and "endpoint" not in backend
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="acme-terraform-state")
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.use_emulator(aws_env.endpoint)
    tf.init_with_emulated_s3(aws_env.endpoint)
    # The plan validates the configuration first: no separate validate.
    applied = tf.apply_planned()
    assert applied.changes == {
        "aws_secretsmanager_secret.this": ("create", None),
        "aws_secretsmanager_secret_version.this[0]": ("create", None),
    }

    value, version = secret_value(aws_env, "shopping-cart-redis")
    password = json.loads(value)["db-password"]
    assert len(password) >= 32 and password.isalnum()
    # The state is in the bucket, under the service's key, with the secret and without
    # its value; nothing is left on this machine, and the lock was released.
    state = s3.get_object(
        Bucket="acme-terraform-state", Key="redis/shopping-cart/terraform.tfstate"
    )
    state_text = state["Body"].read().decode()
    assert "aws_secretsmanager_secret" in state_text and "shopping-cart-redis" in state_text
    assert_absent(password, state_text, "the state in S3")
    assert not (project / "terraform/terraform.tfstate").exists()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="acme-terraform-state")["Contents"]]
    assert keys == ["redis/shopping-cart/terraform.tfstate"]
    assert_absent(password, applied.stream, "terraform apply's output")
    tags = {
        t["Key"]: t["Value"]
        for t in aws_env.client().describe_secret(SecretId="shopping-cart-redis")["Tags"]
    }
    assert tags["password-origin"] == "terraform"

    # The hook run afterwards (say by the portal pipeline) finds the secret, checks it,
    # and leaves the value alone.
    ran = secret_ensure(project)
    assert ran.returncode == 0, ran.stderr
    assert "exists" in ran.stdout and "written by terraform" in ran.stdout
    assert_absent(password, ran.stdout + ran.stderr, "the hook's output")
    assert secret_value(aws_env, "shopping-cart-redis") == (value, version)
    # And the next terraform run has nothing to do: no new password, no tag fight.
    assert tf.is_up_to_date()
    assert secret_value(aws_env, "shopping-cart-redis") == (value, version)


def test_terraform_adopts_the_secret_the_hook_created(generate, terraform, aws_env):
    project = generate({"service_name": "checkout"})
    ran = secret_ensure(project)
    assert ran.returncode == 0, ran.stderr
    assert "created" in ran.stdout
    before = secret_value(aws_env, "checkout-redis")
    # A neighbour whose name starts with ours must not be mistaken for it.
    aws_env.client().create_secret(
        Name="checkout-redis-old",
        SecretString="{}",
        Tags=[{"Key": "password-origin", "Value": "hook"}],
    )

    tf = terraform(project)
    tf.use_emulator(aws_env.endpoint)
    tf.init()
    hook_arn = aws_env.client().describe_secret(SecretId="checkout-redis")["ARN"]
    applied = tf.apply_planned()
    # Imported and updated in place (provider-only settings such as the recovery
    # window), never replaced; no secret version, so no value is written.
    assert applied.changes == {"aws_secretsmanager_secret.this": ("update", hook_arn)}

    after = secret_value(aws_env, "checkout-redis")
    assert hashlib.sha256(after[0].encode()).digest() == hashlib.sha256(before[0].encode()).digest()
    assert after[1] == before[1]
    password = json.loads(after[0])["db-password"]
    assert_absent(password, tf.state_text(), "terraform.tfstate")
    assert tf("output", "-raw", "password_origin").stdout == "hook"

    # The decision is stable: later runs neither re-import nor start writing a value.
    assert tf.is_up_to_date()


# ------------------------------------------------- External Secrets Operator's reader role
OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
OIDC_PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{OIDC_ISSUER}"  # the emulator's account
READER_FILES = {"secret-reader.tf", "secret-reader.auto.tfvars.json"}


@pytest.mark.parametrize("store", ["", "aws-secrets-manager"], ids=["own-store", "cluster-store"])
def test_external_secrets_terraform_is_formatted_and_valid(generate, terraform, store):
    answers = {
        "secret_delivery": "external-secrets",
        "secret_store": store,
        "kms_key_id": "alias/billing-redis",
        "service_name": "billing",
    }
    if not store:
        answers["oidc_provider_arn"] = OIDC_PROVIDER
    project = generate(answers)
    files = {p.name for p in (project / "terraform").iterdir()}
    assert TF_FILES <= files
    assert (READER_FILES <= files) if not store else not (READER_FILES & files)
    # The secret's own contract, which the hook reads, is the same for every delivery.
    assert set(tfvars_of(project)) == {
        "region",
        "secret_name",
        "secret_key",
        "description",
        "kms_key_id",
        "recovery_window_in_days",
        "tags",
    }
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.init()
    assert "The configuration is valid" in tf("validate").stdout


def test_the_reader_role_trusts_only_the_stores_service_accounts_and_reads_only_this_secret(
    generate, terraform, aws_env
):
    project = generate(
        {
            "secret_delivery": "external-secrets",
            "oidc_provider_arn": OIDC_PROVIDER,
            "redis_namespace": "cache",
            "app_namespace": "storefront",
        }
    )
    assert json.loads((project / "terraform/secret-reader.auto.tfvars.json").read_text()) == {
        "oidc_provider_arn": OIDC_PROVIDER,
        "reader_role_name": "shopping-cart-redis-reader-us-east-1",
        "reader_service_accounts": [
            "system:serviceaccount:cache:shopping-cart-redis-secret-reader",
            "system:serviceaccount:storefront:shopping-cart-redis-secret-reader",
        ],
    }
    tf = terraform(project)
    tf.use_emulator(aws_env.endpoint)
    tf.init()
    assert tf.apply_planned().changes == {
        "aws_secretsmanager_secret.this": ("create", None),
        "aws_secretsmanager_secret_version.this[0]": ("create", None),
        "aws_iam_role.reader": ("create", None),
        "aws_iam_role_policy.reader": ("create", None),
    }

    iam = aws_env.client("iam")
    role = iam.get_role(RoleName="shopping-cart-redis-reader-us-east-1")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER}
    conditions = statement["Condition"]["StringEquals"]
    assert conditions[f"{OIDC_ISSUER}:aud"] == "sts.amazonaws.com"
    assert sorted(conditions[f"{OIDC_ISSUER}:sub"]) == [
        "system:serviceaccount:cache:shopping-cart-redis-secret-reader",
        "system:serviceaccount:storefront:shopping-cart-redis-secret-reader",
    ]

    secret_arn = aws_env.client().describe_secret(SecretId="shopping-cart-redis")["ARN"]
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="read-redis-password")
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    (read,) = document["Statement"]  # no KMS key: no decrypt statement
    assert read["Effect"] == "Allow"
    assert sorted(read["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    assert read["Resource"] == secret_arn
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []

    # The role Terraform made is the one the manifests' service accounts name.
    arn = tf("output", "-raw", "reader_role_arn").stdout
    assert arn == role["Arn"]
    store = (project / "manifest/components/redis-secret/secret-store.yaml").read_text()
    assert f"eks.amazonaws.com/role-arn: {arn}\n" in store


# ------------------------------------------------- the scheduled rotation's runner role
def test_the_rotation_role_trusts_only_the_runner_and_rotates_only_this_secret(
    generate, terraform, aws_env
):
    """rotation: yes beside External Secrets' own reader role (both roles in one
    configuration); the runner's tag on the secret is no drift for Terraform."""
    project = generate(
        {
            "secret_delivery": "external-secrets",
            "oidc_provider_arn": OIDC_PROVIDER,
            "rotation": True,
            "rotation_image": "registry.example.com/redis-scaffold@sha256:" + "b" * 64,
            "redis_namespace": "cache",
        }
    )
    assert (
        tfvars_of(project).items()
        >= {
            "rotation_oidc_provider_arn": OIDC_PROVIDER,  # the default: the answer above
            "rotation_role_name": "shopping-cart-redis-rotate-us-east-1",
            "rotation_service_account": "system:serviceaccount:cache:shopping-cart-redis-rotation",
        }.items()
    )
    tf = terraform(project)
    tf("fmt", "-check", "-diff", "-recursive")
    tf.use_emulator(aws_env.endpoint)
    tf.init()
    changes = tf.apply_planned().changes
    assert {"aws_iam_role.rotation", "aws_iam_role_policy.rotation"} <= changes.keys()

    iam = aws_env.client("iam")
    role = iam.get_role(RoleName="shopping-cart-redis-rotate-us-east-1")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
        f"{OIDC_ISSUER}:sub": "system:serviceaccount:cache:shopping-cart-redis-rotation",
    }
    secret_arn = aws_env.client().describe_secret(SecretId="shopping-cart-redis")["ARN"]
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="rotate-redis-password")
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    (rotate,) = document["Statement"]  # no KMS key: no key statement
    assert rotate["Effect"] == "Allow" and rotate["Resource"] == secret_arn
    assert sorted(rotate["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
    ]
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    arn = tf("output", "-raw", "rotation_role_arn").stdout
    assert arn == role["Arn"]
    account = (project / "manifest/components/redis-rotation/serviceaccount.yaml").read_text()
    assert f"eks.amazonaws.com/role-arn: {arn}\n" in account

    # The runner tags the secret at finishSecret: Terraform leaves that tag alone.
    aws_env.client().tag_resource(
        SecretId="shopping-cart-redis", Tags=[{"Key": "password-current-since", "Value": "1"}]
    )
    assert tf.is_up_to_date()


# ------------------------------------------------------------------ Terraform state
def test_state_is_local_unless_a_bucket_is_given_and_the_readme_says_which(generate, tmp_path):
    local = generate(name="local")
    assert 'backend "s3"' not in (local / "terraform/backend.tf").read_text()
    readme = " ".join((local / "README.md").read_text().split())
    assert "**The state is local.** No `state_bucket` was given" in readme
    assert "copier update --trust --data state_bucket=BUCKET" in readme
    assert "terraform init -migrate-state" in readme

    remote = generate({"state_bucket": "acme-state", "state_region": "eu-west-1"}, name="remote")
    backend = (remote / "terraform/backend.tf").read_text()
    assert 'region       = "eu-west-1"' in backend and "use_lockfile = true" in backend
    readme = " ".join((remote / "README.md").read_text().split())
    assert "Terraform keeps its state in S3: bucket `acme-state`" in readme
    assert "state is local" not in readme

    with pytest.raises(ValueError, match="must be an S3 bucket name"):
        generate({"state_bucket": "Acme_State"}, name="bad")
    assert not (tmp_path / "bad").exists()
