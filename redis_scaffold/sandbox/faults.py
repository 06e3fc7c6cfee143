"""Break a running sandbox topology the ways a cluster breaks, and start it again.

kill        a signal to a pod's redis or sentinel: SIGKILL (a crash), SIGSTOP /
            SIGCONT (a hang and its end), SIGTERM (an orderly stop)
restart     the container restarts: same data and run dirs, start script run afresh
handover    the generated preStop hook (pre-stop.sh): a planned stop of the master
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

    def handover(self, node: Node, timeout_s: int = 30) -> subprocess.CompletedProcess:
        """Run the generated preStop hook (pre-stop.sh) for the node's redis."""
        env = self.stage.env(node, self.nodes) | {"PRESTOP_TIMEOUT": str(timeout_s)}
        return subprocess.run(
            ["sh", str(self.stage.script("pre-stop.sh"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s + 15,
            check=False,
        )
