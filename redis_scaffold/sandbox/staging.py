"""Stage a generated repository's config/ for "pods" on loopback, and give each its env.

What a pod's containers get, rebuilt on the machine (see the generated config/common.sh):

    CONFIG_DIR = a copy of config/ with mode 0555 (what the ConfigMap mount looks like),
    DATA_DIR, RUN_DIR = per-node directories under the work dir,
    ANNOUNCE_HOST = BIND_ADDRESS = the node's address, PEER_HOSTS = every node's address,
    REDIS_PASSWORD = the password, passed in the environment only,
    REDIS_PASSWORD_PREVIOUS = the previous password during a rotation (the Secret's
                 "<key>_previous"; empty otherwise),
    PASSWORD_FILE = the current password as the Secret's volume holds it
                 (sandbox/secret_volume.py): it follows the Secret, the env does not,
    EXTRA_CONF = a small file of sandbox-only lines, appended to the runtime config
                 (later lines win), so the generated files are never edited.
TLS_DIR = with tls (the StatefulSet sets it), the node's certificate from the sandbox's
          CA (sandbox/tls.py), as cert-manager's Secret is mounted: tls.crt, tls.key, ca.crt.

The sandbox lines: redis gets `shutdown-timeout` (a stopped sandbox does not wait the
production 10 s for replicas to catch up), sentinels get the optional fast timing
(down-after / failover-timeout) for tests. Both get `bind-source-addr <node address>`
(Redis 7.0+, Valkey): on loopback the kernel would otherwise make every outgoing
connection (replication, sentinel to redis and to sentinel) speak from 127.0.0.1, and a
partition between "pods" (sandbox/partition.py) could not be drawn by address. In a pod
each container speaks from the pod's own IP anyway, so the generated files need no such line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from redis_scaffold.sandbox.nodes import Node, TopologyError
from redis_scaffold.sandbox.secret_volume import SecretVolume
from redis_scaffold.sandbox.tls import CertificateAuthority

CONFIG_SUBDIR = Path("manifest/redis/base/config")
ROLES = ("redis", "sentinel")
SCRIPTS = {"redis": "start-redis.sh", "sentinel": "start-sentinel.sh"}
SHUTDOWN_TIMEOUT_S = 1  # Redis 7: how long a stopping master waits for lagging replicas


def generated_value(repo: Path, conf: str, directive: str) -> str:
    """The last word of the generated config/`conf` line that starts with `directive`
    ("min-replicas-max-lag" in redis.conf, "sentinel down-after-milliseconds" in
    sentinel.conf): what the pods run, whatever the answers file records."""
    words = directive.split()
    for line in (Path(repo) / CONFIG_SUBDIR / conf).read_text().splitlines():
        if line.split()[: len(words)] == words:
            return line.split()[-1]
    raise TopologyError(f"{directive} is not in the generated {conf}")


@dataclass(frozen=True)
class Launch:
    """How to start one process of a pod: its start script, env, working dir and log."""

    script: Path
    env: dict[str, str]
    cwd: Path
    log: Path


@dataclass
class Timing:
    """Sentinel timing overrides (None: the generated value)."""

    down_after_ms: int | None = None
    failover_timeout_ms: int | None = None


class ConfigStage:
    """The work dir of one topology: the staged config/, per-node dirs, logs, env."""

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        master_set: str,
        password: str,
        timing: Timing,
        bin_dir: Path | None = None,
        commands: dict[str, str] | None = None,
        tls_ca: CertificateAuthority | None = None,
    ) -> None:
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.config_dir = self.workdir / "config"
        self.master_set = master_set
        self.password = password
        self.previous_password = ""  # the Secret's "<key>_previous" (set_secret())
        self.secret_volume = SecretVolume(self.workdir / "secret")  # the pods' mount of it
        self.timing = timing
        self.bin_dir = bin_dir
        self.commands = dict(commands or {})  # the engine's programs, as the StatefulSet names them
        self.tls_ca = tls_ca  # tls: the CA that signs every node's certificate

    def set_secret(self, password: str, previous: str = "") -> None:
        """What the Kubernetes Secret holds from now on: the processes started from now
        get it in their env, and the mounted volume changes in place for every pod."""
        self.password, self.previous_password = password, previous
        self.secret_volume.write({"password": password})

    def tls_dir(self, node) -> Path:
        """The node's TLS_DIR: its certificate Secret, as mounted (tls: yes)."""
        return self.node_dir(node) / "tls"

    def tls_env(self, node) -> dict[str, str]:
        return {"TLS_DIR": str(self.tls_dir(node))} if self.tls_ca else {}

    def node_dir(self, node: Node | int) -> Path:
        return self.workdir / f"node{node if isinstance(node, int) else node.index}"

    def log_path(self, node: Node, role: str) -> Path:
        return self.node_dir(node) / f"{role}.log"

    def script(self, name: str) -> Path:
        return self.config_dir / name

    def extra_conf(self, role: str, node: Node | None = None) -> Path:
        """The sandbox lines for `role`: shared, or the node's own (with its source address)."""
        if node is None:
            return self.workdir / f"{role}-extra.conf"
        return self.node_dir(node) / f"{role}-extra.conf"

    def prepare(self, nodes: list[Node]) -> None:
        """Copy config/ (mode 0555), write the sandbox lines, make the node dirs.
        Data directories of a previous start are kept (a pod's volume)."""
        src = self.repo / CONFIG_SUBDIR
        if not src.is_dir():
            raise TopologyError(f"{src} not found: is {self.repo} a generated repository?")
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        self.config_dir.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, self.config_dir / f.name)
                (self.config_dir / f.name).chmod(0o555)  # the ConfigMap's defaultMode
        # shutdown-timeout is Redis 7's; an older local redis-server has no such wait
        redis7 = self._redis_major() >= 7
        redis_lines = f"shutdown-timeout {SHUTDOWN_TIMEOUT_S}\n" if redis7 else ""
        self.extra_conf("redis").write_text(redis_lines)
        self.set_secret(self.password, self.previous_password)
        lines = []
        if self.timing.down_after_ms is not None:
            lines.append(
                f"sentinel down-after-milliseconds {self.master_set} {self.timing.down_after_ms}"
            )
        if self.timing.failover_timeout_ms is not None:
            lines.append(
                f"sentinel failover-timeout {self.master_set} {self.timing.failover_timeout_ms}"
            )
        self.extra_conf("sentinel").write_text("".join(f"{line}\n" for line in lines))
        for node in nodes:
            # What the pod's certificate names: its own address (what it announces), and
            # 127.0.0.1 and localhost (the probes and the exporter). Issued again when the
            # node's address changed (a work dir reused on another loopback block).
            names = [node.host, "127.0.0.1", "localhost"]
            record = self.tls_dir(node) / "names"
            if self.tls_ca and not (record.is_file() and record.read_text() == " ".join(names)):
                self.tls_ca.issue(self.tls_dir(node), names)
                record.write_text(" ".join(names))
            node.data_dir.mkdir(parents=True, exist_ok=True)
            node.run_dir.mkdir(parents=True, exist_ok=True)
            node.run_dir.chmod(0o700)
            for role in ROLES:
                # bind-source-addr is Redis 7.0's (Valkey's too); older servers speak from 127.0.0.1
                own = f"bind-source-addr {node.host}\n" if redis7 else ""
                self.extra_conf(role, node).write_text(self.extra_conf(role).read_text() + own)

    def _redis_major(self) -> int:
        """The major version of the server the start script will run (0: unknown)."""
        path = os.pathsep.join(
            filter(None, [self.bin_dir and str(self.bin_dir), os.environ.get("PATH")])
        )
        server = shutil.which(self.commands.get("SERVER_COMMAND", "redis-server"), path=path)
        if not server:
            return 0
        try:
            out = subprocess.run(
                [server, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        match = re.search(r"\bv=(\d+)\.", out)
        return int(match.group(1)) if match else 0

    def launch(self, node: Node, nodes: list[Node], role: str) -> Launch:
        """The start script of `role` (start-redis.sh or start-sentinel.sh) for `node`."""
        return Launch(
            self.script(SCRIPTS[role]),
            self.env(node, nodes, role),
            node.data_dir,
            self.log_path(node, role),
        )

    def env(self, node: Node, nodes: list[Node], role: str = "redis") -> dict[str, str]:
        """The environment a pod gives `role`'s container (it holds the password)."""
        path = os.environ.get("PATH", "/usr/bin:/bin")
        if self.bin_dir:
            path = f"{self.bin_dir}{os.pathsep}{path}"
        return {
            **self.commands,
            "PATH": path,
            "LANG": "C",
            "REDIS_PASSWORD": self.password,
            "REDIS_PASSWORD_PREVIOUS": self.previous_password,
            "PASSWORD_FILE": str(self.secret_volume.file("password")),
            "ANNOUNCE_HOST": node.host,
            "BIND_ADDRESS": node.host,
            "PEER_HOSTS": " ".join(n.host for n in nodes),
            "REDIS_PORT": str(node.redis_port),
            "SENTINEL_PORT": str(node.sentinel_port),
            "CONFIG_DIR": str(self.config_dir),
            "DATA_DIR": str(node.data_dir),
            "RUN_DIR": str(node.run_dir),
            "CLI_TIMEOUT": "1",
            "EXTRA_CONF": str(self.extra_conf(role, node)),
            **self.tls_env(node),
        }
