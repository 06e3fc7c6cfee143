"""The app side of the sandbox: the GENERATED client snippet, with the env an app gets.

In a cluster, the generated redis-env component (manifest/components/redis-env) gives
the app REDIS_HOST, REDIS_READ_PORT, REDIS_SENTINEL_PORT, REDIS_MASTER_SET, and
REDIS_PASSWORD from a secretKeyRef. On loopback the same values are read from the
rendered component (redis_scaffold.project.app_env); only what loopback changes is
replaced: REDIS_HOST lists every node (the snippet's outside-Kubernetes form: writer()
asks each node's sentinel, reader() reads from the first host), and the password is
the sandbox's own. REDIS_PASSWORD_FILE (the Secret mounted as a file) names a
secret_volume.SecretVolume's file when one is given, and is left out otherwise (an app
that reads the env only).

    app = GeneratedApp(repo, env)       # or LocalSentinel.app()
    app.writer().set("k", "v"); app.reader().get("k")
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from redis_scaffold.project import app_env
from redis_scaffold.service.check import TlsFiles

CLIENT_PATH = Path("client/python/redis_client.py")
LIBRARY_SRC = Path("clients/python/src")
PASSWORD_FILE_ENV = "REDIS_PASSWORD_FILE"
_loaded = itertools.count()


def load_client(repo: Path) -> ModuleType:
    """Import the generated client snippet of `repo` as a fresh module.

    The Sentinel adapter imports the client library (redis_service_client): installed in
    the project's venv by scripts/bootstrap.sh, or else taken from the template's
    clients/python/src as an app that vendored it would (a non-editable install)."""
    if importlib.util.find_spec("redis_service_client") is None:
        for root in (
            Path(__file__).resolve().parents[2],
            Path(__file__).resolve().parents[1] / "_template",
        ):
            if (root / LIBRARY_SRC).is_dir():
                sys.path.append(str(root / LIBRARY_SRC))
                break
    path = Path(repo) / CLIENT_PATH
    spec = importlib.util.spec_from_file_location(f"generated_redis_client_{next(_loaded)}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def loopback_env(
    repo: Path,
    hosts: list[str],
    redis_port: int,
    sentinel_port: int,
    password: str,
    tls: TlsFiles | None = None,
    password_file: Path | None = None,
) -> dict[str, str]:
    """The rendered redis-env values, with the loopback hosts, ports and password (and,
    with tls, the sandbox's CA file where the app's CA ConfigMap is mounted, and the
    app's own certificate where the servers ask for one; with password_file, the
    mounted password's path, REDIS_PASSWORD_FILE, which is dropped otherwise)."""
    return with_password_file(
        app_env(repo)
        | {
            "REDIS_HOST": ",".join(hosts),
            "REDIS_READ_PORT": str(redis_port),
            "REDIS_SENTINEL_PORT": str(sentinel_port),
            "REDIS_PASSWORD": password,
            **(tls.env() if tls else {}),
        },
        password_file,
    )


def with_password_file(env: dict[str, str], password_file: Path | None) -> dict[str, str]:
    """`env` with REDIS_PASSWORD_FILE naming `password_file` (the app's mounted Secret, a
    secret_volume.SecretVolume's path), or without it (an app that reads the env only)."""
    env = {k: v for k, v in env.items() if k != PASSWORD_FILE_ENV}
    return env | ({PASSWORD_FILE_ENV: str(password_file)} if password_file else {})


class GeneratedApp:
    """The generated client snippet of `repo`, configured from `env` as an app would be."""

    def __init__(
        self, repo: Path, env: Mapping[str, str], module: ModuleType | None = None
    ) -> None:
        self.repo = Path(repo)
        self.env = dict(env)
        self.module = module or load_client(self.repo)

    def with_env(self, **overrides: str) -> GeneratedApp:
        """The same snippet with some env values replaced (e.g. REDIS_HOST)."""
        return GeneratedApp(self.repo, self.env | overrides, self.module)

    @property
    def settings(self):
        return self.module.settings_from_env(self.env)

    def writer(self):
        """The snippet's writer(): the master, found through Sentinel."""
        return self.module.writer(self.settings)

    def reader(self):
        """The snippet's reader(): the read port of the first host."""
        return self.module.reader(self.settings)
