"""Network partitions between the sandbox's "pods", drawn with nftables on loopback.

Each pod's redis and sentinel speak from the pod's own address (`bind-source-addr`,
staging.py), so a partition is a pair of rules per cut: drop every packet from one
side's addresses to the other's. Packets vanish (drop, not reject), as they do when a
network splits: established connections hang until their own timeouts, new ones never
complete. Only the listed addresses are affected; the app (which speaks from 127.0.0.1)
still reaches every pod, which is the case the clients must handle: an app that can
reach the isolated old master as well as the majority.

The rules live in an nftables table of their own, named after the topology's address
block, so parallel topologies never touch each other's rules, and heal() deletes the
table. nft needs CAP_NET_ADMIN, and the rules must never reach a real machine's
loopback: Partition refuses to run unless the network namespace holds nothing but `lo`
(the tests run in such a one, scripts/offline.sh; nftables comes from scripts/bootstrap.sh).

    with Partition.between(topo.block.base, [old.host], [n.host for n in others]):
        ...                     # old master cut off from its peers, not from the app
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable

from redis_scaffold.sandbox.nodes import TopologyError


class PartitionError(TopologyError):
    """nftables is missing or not permitted here, or a rule was refused."""


def loopback_only() -> bool:
    """True when this process's network namespace has no interface but `lo` (what
    scripts/offline.sh creates; /proc/net/dev lists the current namespace's interfaces)."""
    try:
        lines = open("/proc/net/dev").read().splitlines()[2:]
    except OSError:
        return False
    return [line.split(":", 1)[0].strip() for line in lines] == ["lo"]


def nft_program() -> str | None:
    return shutil.which("nft") or next(
        (p for p in ("/usr/sbin/nft", "/sbin/nft") if os.access(p, os.X_OK)), None
    )


def partition_unavailable() -> str | None:
    """Why partitions cannot be drawn here (None: they can)."""
    if nft_program() is None:
        return "nft is not installed (scripts/bootstrap.sh installs nftables)"
    if not loopback_only():
        return "not in a loopback-only network namespace (run under scripts/offline.sh)"
    if os.geteuid() != 0:
        return "nft needs root in the namespace (scripts/offline.sh runs the tests as root there)"
    return None


class Partition:
    """Cut `side_a` from `side_b` (lists of loopback addresses), both ways, until heal()."""

    def __init__(self, name: str, side_a: Iterable[str], side_b: Iterable[str]) -> None:
        self.table = "redis_scaffold_" + "".join(c if c.isalnum() else "_" for c in name)
        self.side_a, self.side_b = list(side_a), list(side_b)
        self.active = False

    @classmethod
    def between(cls, name: str, side_a: Iterable[str], side_b: Iterable[str]) -> Partition:
        return cls(name, side_a, side_b)

    def _ruleset(self) -> str:
        a, b = ", ".join(self.side_a), ", ".join(self.side_b)
        return "\n".join(
            [
                f"table ip {self.table} {{",
                "  chain out {",
                "    type filter hook output priority 0; policy accept;",
                f"    ip saddr {{ {a} }} ip daddr {{ {b} }} drop",
                f"    ip saddr {{ {b} }} ip daddr {{ {a} }} drop",
                "  }",
                "}",
            ]
        )

    def _nft(self, *args: str, script: str | None = None) -> None:
        why = partition_unavailable()
        if why:
            raise PartitionError(f"cannot draw a partition: {why}")
        result = subprocess.run(
            [nft_program(), *args],
            input=script,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise PartitionError(f"nft {' '.join(args)} failed: {result.stderr.strip()}")

    def cut(self) -> Partition:
        """Install the rules (a table of this partition's own)."""
        self._nft("-f", "-", script=self._ruleset())
        self.active = True
        return self

    def heal(self) -> None:
        """Delete the rules; connections resume (or time out and reconnect)."""
        if self.active:
            self._nft("delete", "table", "ip", self.table)
            self.active = False

    def __enter__(self) -> Partition:
        return self.cut()

    def __exit__(self, *exc_info) -> None:
        self.heal()
