"""The "pods" of a loopback topology, and the error every sandbox part raises."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class TopologyError(RuntimeError):
    """The local topology could not be started, or did not reach the expected state."""


@dataclass(frozen=True)
class Node:
    """One "pod": a redis and a sentinel on one loopback address."""

    index: int
    host: str
    redis_port: int
    sentinel_port: int
    data_dir: Path
    run_dir: Path

    @property
    def redis_address(self) -> tuple[str, int]:
        return (self.host, self.redis_port)

    @property
    def sentinel_address(self) -> tuple[str, int]:
        return (self.host, self.sentinel_port)
