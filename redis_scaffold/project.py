"""A generated repository, as the hooks see it: its recorded copier answers."""

from __future__ import annotations

from pathlib import Path

import yaml

from redis_scaffold.errors import UsageError

ANSWERS_FILE = ".copier-answers.yml"


class NotGeneratedError(UsageError, FileNotFoundError):
    """The directory has no answers file, so it was not generated (or not adopted)."""


def read_answers(project: Path, missing_ok: bool = False) -> dict:
    """The answers recorded in `project`'s answers file ({} if absent and missing_ok)."""
    path = Path(project) / ANSWERS_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    return yaml.safe_load(path.read_text()) or {}


APP_ENV_PATCH = "manifest/components/redis-env/deployment-env.yaml"


def app_env(project: Path) -> dict[str, str]:
    """The literal env the redis-env component gives the app (REDIS_HOST, ports, master set).

    The hooks connect the way the app does, from the values the template rendered,
    instead of deriving host names again.
    """
    path = Path(project) / APP_ENV_PATCH
    if not path.is_file():
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    deployment = yaml.safe_load(path.read_text())
    env: dict[str, str] = {}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env
