"""A generated repository, as the hooks see it: its answers file and what it rendered.

Since 0.2.0 the tuning answers (pod count, ports, master set, ...) are recorded only
when a team customised them, so the hooks read such settings from the files the
template rendered (`deployment`), never from the answers file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis_scaffold.errors import ScaffoldError, UsageError

ANSWERS_FILE = ".copier-answers.yml"


def _yaml() -> Any:
    """PyYAML, imported when a file is read (so `secret ensure --help` imports no parser)."""
    import yaml

    return yaml


class NotGeneratedError(UsageError, FileNotFoundError):
    """The directory has no answers file, so it was not generated (or not adopted)."""


def read_answers(project: Path, missing_ok: bool = False) -> dict:
    """The answers recorded in `project`'s answers file ({} if absent and missing_ok)."""
    path = Path(project) / ANSWERS_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    return _yaml().safe_load(path.read_text()) or {}


APP_ENV_PATCH = "manifest/components/redis-env/deployment-env.yaml"


def app_env(project: Path) -> dict[str, str]:
    """The literal env the redis-env component gives the app (REDIS_HOST, ports, master set).

    The hooks connect the way the app does, from the values the template rendered,
    instead of deriving host names again.
    """
    path = Path(project) / APP_ENV_PATCH
    if not path.is_file():
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    deployment = _yaml().safe_load(path.read_text())
    env: dict[str, str] = {}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


STATEFULSET = "manifest/redis/base/statefulset.yaml"


@dataclass(frozen=True)
class Deployment:
    """What the rendered manifests say about the Redis deployment."""

    pods: int  # the StatefulSet's replicas (the `redis_replicas` answer): master included
    master_set: str
    redis_port: int
    sentinel_port: int
    # The engine's programs the containers run: SERVER_COMMAND, SENTINEL_COMMAND,
    # CLI_COMMAND -> redis-server, ... or valkey-server, ...
    commands: dict[str, str] = field(default_factory=dict)
    # tls: the containers get TLS_DIR (the certificate's mount) and speak TLS only.
    tls: bool = False


COMMANDS = ("SERVER_COMMAND", "SENTINEL_COMMAND", "CLI_COMMAND")


def deployment(project: Path) -> Deployment:
    """The pod count (the StatefulSet), master set and ports (the app's env), and the
    engine's programs (the StatefulSet's container env)."""
    path = Path(project) / STATEFULSET
    if not path.is_file():
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    statefulset = next(
        d for d in _yaml().safe_load_all(path.read_text()) if d and d.get("kind") == "StatefulSet"
    )
    env = app_env(project)
    containers = statefulset["spec"]["template"]["spec"]["containers"]
    commands = {
        e["name"]: e["value"]
        for c in containers
        for e in c.get("env", [])
        if e["name"] in COMMANDS and "value" in e
    }
    return Deployment(
        pods=int(statefulset["spec"]["replicas"]),
        master_set=env["REDIS_MASTER_SET"],
        redis_port=int(env["REDIS_READ_PORT"]),
        sentinel_port=int(env["REDIS_SENTINEL_PORT"]),
        commands=commands,
        tls=any(e["name"] == "TLS_DIR" for c in containers for e in c.get("env", [])),
    )


BOOTSTRAP_JOB = "manifest/redis/base/bootstrap-job.yaml"
TOTAL_SLOTS = 16384


@dataclass(frozen=True)
class ClusterDeployment:
    """What the rendered manifests say about a Redis Cluster (topology cluster)."""

    pods: int  # the StatefulSet's replicas: every node, masters and their replicas
    replicas_per_master: int  # the bootstrap Job's CLUSTER_REPLICAS
    redis_port: int
    bus_port: int
    commands: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # as Deployment.tls

    @property
    def masters(self) -> int:
        return self.pods // (self.replicas_per_master + 1)


def _container_env(path: Path, kind: str) -> tuple[dict, dict[str, str]]:
    """The first `kind` document of `path` and its containers' literal env."""
    if not path.is_file():
        raise NotGeneratedError(f"{path} not found: is it a repository of topology cluster?")
    doc = next(d for d in _yaml().safe_load_all(path.read_text()) if d and d.get("kind") == kind)
    env = {
        e["name"]: e["value"]
        for c in doc["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if "value" in e
    }
    return doc, env


def cluster_deployment(project: Path) -> ClusterDeployment:
    """The pod count and ports (the StatefulSet), the replicas per master (the bootstrap
    Job's CLUSTER_REPLICAS) and the engine's programs."""
    statefulset, env = _container_env(Path(project) / STATEFULSET, "StatefulSet")
    _, job_env = _container_env(Path(project) / BOOTSTRAP_JOB, "Job")
    return ClusterDeployment(
        pods=int(statefulset["spec"]["replicas"]),
        replicas_per_master=int(job_env["CLUSTER_REPLICAS"]),
        redis_port=int(env["REDIS_PORT"]),
        bus_port=int(env["CLUSTER_BUS_PORT"]),
        commands={k: v for k, v in env.items() if k in COMMANDS},
        tls="TLS_DIR" in env,
    )


TFVARS = Path("terraform") / "terraform.tfvars.json"


class SpecError(ScaffoldError):
    """The project's terraform.tfvars.json is missing or incomplete (`secret` exit 16)."""

    exit_code = 16


@dataclass(frozen=True)
class SecretSpec:
    """The secret as Terraform declares it (terraform/terraform.tfvars.json)."""

    name: str
    key: str
    region: str
    description: str = ""
    kms_key_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_tfvars(cls, tfvars: Mapping) -> SecretSpec:
        missing = [k for k in ("secret_name", "secret_key", "region") if not tfvars.get(k)]
        if missing:
            raise SpecError(
                "terraform.tfvars.json lacks "
                + ", ".join(missing)
                + "; regenerate the project (copier update) or restore the file."
            )
        return cls(
            name=tfvars["secret_name"],
            key=tfvars["secret_key"],
            region=tfvars["region"],
            description=tfvars.get("description", ""),
            kms_key_id=tfvars.get("kms_key_id") or "",
            tags=dict(tfvars.get("tags") or {}),
        )


def load_spec(project: Path) -> SecretSpec:
    """The secret the repository's Terraform declares: the same file Terraform reads, so
    the secret hook and Terraform cannot disagree."""
    path = Path(project) / TFVARS
    try:
        tfvars = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(
            f"{path} does not exist: PROJECT_DIR must be a repository generated from the "
            "Redis service template (topology sentinel or cluster)."
        ) from None
    except ValueError as exc:
        raise SpecError(f"{path} is not valid JSON ({exc}).") from None
    return SecretSpec.from_tfvars(tfvars)
