"""Break a running sandbox topology the ways a cluster breaks, and start it again.

kill        a signal to a pod's redis or sentinel: SIGKILL (a crash), SIGSTOP /
            SIGCONT (a hang and its end), SIGTERM (an orderly stop)
restart     the container restarts: same data and run dirs, start script run afresh
handover    the generated preStop hook (pre-stop.sh): a planned stop of the master
probe       a generated probe script (health-redis.sh / health-sentinel.sh), as the
            kubelet runs it: in the container, with the env it started with
"""

from __future__ import annotations

import signal
import subprocess

from redis_scaffold.sandbox.nodes import Node
from redis_scaffold.sandbox.processes import Supervisor
from redis_scaffold.sandbox.staging import ConfigStage


class Faults:
    """Fault injection on the processes a Supervisor runs from a ConfigStage."""

    def __init__(self, stage: ConfigStage, supervisor: Supervisor, nodes: list[Node]) -> None:
        self.stage = stage
        self.supervisor = supervisor
        self.nodes = nodes

    def start(self, node: Node, role: str) -> subprocess.Popen:
        """Run the node's start script for `role` (start-redis.sh / start-sentinel.sh)."""
        return self.supervisor.spawn((node.index, role), self.stage.launch(node, self.nodes, role))

    def kill(self, node: Node, sig: int = signal.SIGKILL, role: str = "redis") -> None:
        """Send `sig` to the node's redis (or sentinel); wait for it if the signal ends it."""
        self.supervisor.signal((node.index, role), sig)

    def restart(self, node: Node, role: str = "redis") -> subprocess.Popen:
        """Start the node's redis (or sentinel) again, stopping it first if it runs."""
        self.supervisor.terminate((node.index, role))
        return self.start(node, role)

    def container_env(self, node: Node, role: str = "redis") -> dict[str, str]:
        """The env of the node's `role` container: what its process started with (a
        Secret changed since reaches its mounted volume, not its env)."""
        launch = self.supervisor.launch_of((node.index, role))
        return dict(launch.env) if launch else self.stage.env(node, self.nodes, role)

    def handover(self, node: Node, timeout_s: int = 30) -> subprocess.CompletedProcess:
        """Run the generated preStop hook (pre-stop.sh) for the node's redis."""
        env = self.container_env(node) | {"PRESTOP_TIMEOUT": str(timeout_s)}
        return subprocess.run(
            ["sh", str(self.stage.script("pre-stop.sh"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s + 15,
            check=False,
        )

    def probe(self, node: Node, role: str, mode: str) -> subprocess.CompletedProcess:
        """Run the generated probe of `role` (startup, liveness or readiness)."""
        return subprocess.run(
            ["sh", str(self.stage.script(f"health-{role}.sh")), mode],
            env=self.container_env(node, role),
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
