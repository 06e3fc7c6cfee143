"""Ensure the Redis password secret exists in AWS Secrets Manager.

One job: given a Secrets Manager client and a `SecretSpec`, make the secret exist with
a JSON value ``{"<key>": <password>, "<key>_previous": ""}`` and the desired description
and tags. ``<key>_previous`` holds the previous password during a rotation (rotate.py)
and is empty otherwise; both deliveries read both keys.

- Absent: create it with a fresh password (letters and digits, 40 characters), the
  tags (plus ``password-origin = hook``, which tells the generated Terraform to adopt
  the secret instead of writing a value of its own) and the KMS key if one is set.
- Present: never touch the password. Check that it is JSON holding the key, and mend
  drift in the description and tags; a value made before rotation existed (no
  ``<key>_previous``) gets the empty key added, the one value change ensure makes, as a
  new AWSCURRENT version holding the same password.
- Dry run: only read APIs are called; the returned report says what would be done.

The password is held in memory for the one call that writes it and is never part of a
report, an error message or a log record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import string
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import boto3
import botocore.exceptions
from botocore.config import Config

from redis_scaffold.errors import ScaffoldError

# What Terraform declares about the secret is part of the project model (project.py).
from redis_scaffold.project import SecretSpec, SpecError  # noqa: F401

log = logging.getLogger(__name__)

ORIGIN_TAG = "password-origin"
NEXT_STAGE = "REDIS-SCAFFOLD-NEXT"  # a version on its way to AWSCURRENT (put_current)
ORIGIN_HOOK = "hook"
PASSWORD_LENGTH = 40
# No punctuation at all: nothing that needs escaping in a redis:// URL (@ : / # ? %),
# and within what ElastiCache AUTH accepts should the service move there.
PASSWORD_ALPHABET = string.ascii_letters + string.digits


# ------------------------------------------------------------------- errors
class SecretError(ScaffoldError):
    """A failure the user can act on; ``exit_code`` tells the kinds apart."""

    exit_code = 10


class NoCredentialsError(SecretError):
    exit_code = 11


class AccessDeniedError(SecretError):
    exit_code = 12


class EndpointUnreachableError(SecretError):
    exit_code = 13


class ScheduledForDeletionError(SecretError):
    exit_code = 14


class BadSecretValueError(SecretError):
    exit_code = 15


@dataclass
class Report:
    """What ensure() found and did. Holds no secret material."""

    name: str
    action: str  # "created", "would create", "exists"
    arn: str = ""
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        prefix = "[dry run] " if self.dry_run else ""
        out = [
            f"{prefix}secret {self.name}: {self.action}" + (f" ({self.arn})" if self.arn else "")
        ]
        verb = "would mend" if self.dry_run else "mended"
        out += [f"  {verb}: {change}" for change in self.changes]
        out += [f"  note: {note}" for note in self.notes]
        return out


# ------------------------------------------------------------------ client
def make_client(
    region: str | None = None,
    profile: str | None = None,
    *,
    connect_timeout: float = 5,
    read_timeout: float = 15,
    max_attempts: int = 3,
):
    """A Secrets Manager client: standard credential chain, standard retry mode.

    AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER are honoured by boto3 itself.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    with aws_errors("(client setup)", region or "default region"):
        session = boto3.session.Session(profile_name=profile, region_name=region)
        return session.client("secretsmanager", config=config)


_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}


@contextlib.contextmanager
def aws_errors(name: str, where: str = "") -> Iterator[None]:
    """Translate botocore failures into SecretError kinds, each a clear paragraph."""
    try:
        yield
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
    ) as exc:
        raise NoCredentialsError(
            f"No AWS credentials were found for secret {name} ({exc}). Configure the "
            "standard chain: AWS_PROFILE or --profile, AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, SSO (aws sso login), or an instance/pod role."
        ) from None
    except botocore.exceptions.ProfileNotFound as exc:
        raise NoCredentialsError(
            f"{exc}. Pass an existing profile with --profile or AWS_PROFILE, or unset it."
        ) from None
    except botocore.exceptions.NoRegionError:
        raise SecretError(
            "No AWS region is set: pass --region or set AWS_REGION / AWS_DEFAULT_REGION."
        ) from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
        botocore.exceptions.ConnectionClosedError,
    ) as exc:
        raise EndpointUnreachableError(
            f"The Secrets Manager endpoint could not be reached for secret {name} in "
            f"{where} ({exc}). Check the network, the region, and AWS_ENDPOINT_URL / "
            "AWS_ENDPOINT_URL_SECRETS_MANAGER if you set them; nothing was changed."
        ) from None
    except botocore.exceptions.ClientError as exc:
        code, message = _error_of(exc.response)
        operation = exc.operation_name
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _DENIED_CODES or status == 403:
            raise AccessDeniedError(
                f"AWS refused {operation} on secret {name} ({code}: {message}). The "
                "identity in use needs secretsmanager:DescribeSecret, GetSecretValue, "
                "CreateSecret, UpdateSecret and TagResource on this secret, and for "
                "`secret rotate` PutSecretValue and UpdateSecretVersionStage too (and "
                "kms:Encrypt/Decrypt/GenerateDataKey when a KMS key is set)."
            ) from None
        if code == "InvalidRequestException" and "deletion" in message.lower():
            raise _scheduled(name) from None
        raise SecretError(f"{operation} failed on secret {name}: {code}: {message}") from None


def _error_of(response: Mapping) -> tuple[str, str]:
    """(code, message) of an error response, on one line.

    Some endpoints (proxies, emulators) answer a JSON-protocol call with an XML
    error body that botocore cannot parse; its Code and Message are read here.
    """
    error = response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if "<Code>" in message:
        code = (re.search(r"<Code>([^<]*)</Code>", message) or [None, code])[1]
        message = (re.search(r"<Message>([^<]*)</Message>", message) or [None, message])[1]
    return code, " ".join(message.split())


def _scheduled(name: str, when: object = None) -> ScheduledForDeletionError:
    date = f" on {when}" if when else ""
    return ScheduledForDeletionError(
        f"Secret {name} is scheduled for deletion{date}, so it can neither be used nor "
        f"re-created. Restore it (aws secretsmanager restore-secret --secret-id {name}) "
        "to keep its password, or wait until the deletion completes."
    )


# ------------------------------------------------------------------- logic
def previous_key(key: str) -> str:
    """The JSON key (and Secret key) of the previous password during a rotation."""
    return f"{key}_previous"


def new_password(length: int = PASSWORD_LENGTH) -> str:
    """Letters and digits from the OS CSPRNG, with at least one of each kind."""
    if length < 32:
        raise ValueError("password length must be at least 32")
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def _describe(client, spec: SecretSpec) -> dict | None:
    try:
        return client.describe_secret(SecretId=spec.name)
    except client.exceptions.ResourceNotFoundException:
        return None


def check_value(client, spec: SecretSpec) -> bool:
    """Raise BadSecretValueError unless the current value is JSON holding spec.key; True
    when it also holds the previous key (a string)."""
    try:
        value = client.get_secret_value(SecretId=spec.name, VersionStage="AWSCURRENT").get(
            "SecretString"
        )
    except client.exceptions.ResourceNotFoundException:
        value = None
    if value is None:
        raise BadSecretValueError(
            f"Secret {spec.name} exists but has no current string value. Put a JSON "
            f'value {{"{spec.key}": "..."}} in it (or delete it and run again).'
        )
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    finally:
        del value
    if not isinstance(parsed, dict):
        raise BadSecretValueError(
            f"Secret {spec.name} exists but its value is not a JSON object. "
            f"argocd-vault-plugin reads <path:{spec.name}#{spec.key}>, which needs "
            f'{{"{spec.key}": "..."}}. Fix the value by hand; it was left untouched.'
        )
    if not isinstance(parsed.get(spec.key), str) or not parsed[spec.key]:
        keys = ", ".join(sorted(parsed)) or "none"
        raise BadSecretValueError(
            f"Secret {spec.name} is JSON but has no non-empty string under key "
            f"{spec.key!r} (keys present: {keys}). Add the key, or point secret_key at "
            "the right one; the value was left untouched."
        )
    return isinstance(parsed.get(previous_key(spec.key)), str)


def add_previous_key(client, spec: SecretSpec) -> None:
    """Add the empty previous key to the current value (same password, new version)."""
    value = json.loads(
        client.get_secret_value(SecretId=spec.name, VersionStage="AWSCURRENT")["SecretString"]
    )
    value.setdefault(previous_key(spec.key), "")
    put_current(client, spec.name, json.dumps(value))
    del value


def put_current(client, name: str, value: str) -> None:
    """A new version of `name` made AWSCURRENT the way a rotation does it: stored under a
    label of its own, then AWSCURRENT moved onto it (the old version becomes AWSPREVIOUS).
    (put_secret_value with AWSCURRENT does the same on AWS, but the emulator leaves the
    label on the old version too.)"""
    token = str(uuid.uuid4())
    client.put_secret_value(
        SecretId=name, ClientRequestToken=token, SecretString=value, VersionStages=[NEXT_STAGE]
    )
    stages = client.describe_secret(SecretId=name).get("VersionIdsToStages", {})
    current = next(v for v, labels in stages.items() if "AWSCURRENT" in labels)
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    client.update_secret_version_stage(
        SecretId=name, VersionStage=NEXT_STAGE, RemoveFromVersionId=token
    )


def drift(current: Mapping, spec: SecretSpec) -> tuple[str | None, dict[str, str]]:
    """The description (or None) and tags that differ from the spec."""
    description = spec.description if current.get("Description", "") != spec.description else None
    tags = {t["Key"]: t["Value"] for t in current.get("Tags", [])}
    # The origin marker is set once, at creation, and never changed afterwards.
    wanted = {k: v for k, v in spec.tags.items() if k != ORIGIN_TAG}
    return description, {k: v for k, v in wanted.items() if tags.get(k) != v}


def ensure(client, spec: SecretSpec, *, dry_run: bool = False) -> Report:
    """Make the secret exist as the spec says; see the module docstring."""
    with aws_errors(spec.name, spec.region):
        current = _describe(client, spec)
        if current is None:
            return _create(client, spec, dry_run)
        return _mend(client, spec, current, dry_run)


def _create(client, spec: SecretSpec, dry_run: bool) -> Report:
    tags = {**spec.tags, ORIGIN_TAG: ORIGIN_HOOK}
    report = Report(spec.name, "would create" if dry_run else "created", dry_run=dry_run)
    report.notes.append(
        f'value: JSON {{"{spec.key}": <{PASSWORD_LENGTH} random letters and digits>}}'
        + (f", encrypted with {spec.kms_key_id}" if spec.kms_key_id else "")
    )
    report.notes.append("tags: " + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    if dry_run:
        return report
    kwargs = {
        "Name": spec.name,
        "Description": spec.description,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
    if spec.kms_key_id:
        kwargs["KmsKeyId"] = spec.kms_key_id
    try:
        created = client.create_secret(
            SecretString=json.dumps({spec.key: new_password(), previous_key(spec.key): ""}),
            **kwargs,
        )
    except client.exceptions.ResourceExistsException:
        # Someone created it between our describe and create: treat it as existing.
        return _mend(client, spec, _describe(client, spec) or {}, dry_run)
    report.arn = created["ARN"]
    log.info("created secret %s", spec.name)
    return report


def _mend(client, spec: SecretSpec, current: Mapping, dry_run: bool) -> Report:
    if current.get("DeletedDate"):
        raise _scheduled(spec.name, current["DeletedDate"])
    has_previous = check_value(client, spec)
    report = Report(spec.name, "exists", arn=current.get("ARN", ""), dry_run=dry_run)
    if has_previous:
        report.notes.append(f"value left untouched (JSON with key {spec.key!r})")
    else:
        report.notes.append(f"password left untouched (JSON with key {spec.key!r})")
        report.changes.append(
            f"value: empty {previous_key(spec.key)!r} added (the deliveries read it; same password)"
        )
    origin = {t["Key"]: t["Value"] for t in current.get("Tags", [])}.get(ORIGIN_TAG)
    report.notes.append(f"password written by {origin or 'unknown (not tagged)'}")
    if spec.kms_key_id and current.get("KmsKeyId") and spec.kms_key_id not in current["KmsKeyId"]:
        report.notes.append(
            f"KMS key differs (configured {spec.kms_key_id}, secret uses "
            f"{current['KmsKeyId']}); not changed: re-encrypting is a deliberate step"
        )
    description, tags = drift(current, spec)
    if description is not None:
        report.changes.append(f"description -> {description!r}")
    report.changes += [f"tag {k} -> {v!r}" for k, v in sorted(tags.items())]
    if dry_run:
        return report
    if not has_previous:
        add_previous_key(client, spec)
    if description is not None:
        client.update_secret(SecretId=spec.name, Description=description)
    if tags:
        client.tag_resource(
            SecretId=spec.name, Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        )
    return report


def read_password(client, name: str, key: str) -> str:
    """The password under `key` in secret `name`. Callers must never print it."""
    with aws_errors(name, client.meta.region_name or ""):
        response = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    try:
        value = json.loads(response.get("SecretString") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get(key), str) or not value[key]:
        raise BadSecretValueError(
            f"Secret {name} does not hold a JSON object with a non-empty string under {key!r}."
        )
    return value[key]
