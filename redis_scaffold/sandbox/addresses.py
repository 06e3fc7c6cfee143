"""Blocks of loopback addresses for the sandbox's "pods", reserved so runs never collide.

Every address in 127.0.0.0/8 is local, so a topology of N pods takes N consecutive
addresses (127.x.0.11, .12, .13 ...), each with the same ports, as pods would. A block
is reserved with an advisory lock (flock) on a file named after it, held until the
block is released or the process dies; the kernel drops the lock then, so nothing
stale is left behind. Parallel test workers (pytest-xdist), a demo and a benchmark on
the same machine therefore each get a block of their own, and a block is only taken
when every (address, port) in it can be bound.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path

from redis_scaffold.sandbox.nodes import TopologyError

LOCK_DIR = Path(tempfile.gettempdir()) / "redis-scaffold-loopback"
BLOCKS = 250  # 127.1.0.11 ... 127.250.0.11


class AddressError(TopologyError):
    """No usable block of loopback addresses."""


def loopback_hosts(host_base: str, count: int) -> list[str]:
    """`count` consecutive addresses from host_base (127.0.0.11 -> .11, .12, .13)."""
    *prefix, last = host_base.split(".")
    if len(prefix) != 3 or prefix[0] != "127" or int(last) + count > 255:
        raise AddressError(f"host_base must be a 127.x.y.z address with room for {count} hosts")
    return [".".join([*prefix, str(int(last) + i)]) for i in range(count)]


def addresses_free(hosts: list[str], ports: list[int]) -> bool:
    """True when every (host, port) can be bound now."""
    for host in hosts:
        for port in ports:
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    return False
    return True


class AddressBlock:
    """`count` consecutive loopback addresses whose `ports` were free when reserved.

    AddressBlock.reserve(3, [6379, 26379]).hosts -> ['127.42.0.11', '127.42.0.12', ...]
    AddressBlock.fixed("127.0.0.11", 3): a given block, not locked (the caller's choice).
    """

    def __init__(self, hosts: list[str], lock_fd: int | None = None) -> None:
        self.hosts = hosts
        self._lock_fd = lock_fd

    @classmethod
    def fixed(cls, host_base: str, count: int) -> AddressBlock:
        return cls(loopback_hosts(host_base, count))

    @classmethod
    def reserve(cls, count: int, ports: list[int], seed: int | None = None) -> AddressBlock:
        """The first free block, searching from a per-process offset (or `seed`)."""
        LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
        start = (os.getpid() if seed is None else seed) % BLOCKS
        for k in range(BLOCKS):
            base = f"127.{(start + k) % BLOCKS + 1}.0.11"
            fd = _try_lock(LOCK_DIR / f"{base}.lock")
            if fd is None:
                continue
            hosts = loopback_hosts(base, count)
            if addresses_free(hosts, ports):
                return cls(hosts, fd)
            os.close(fd)
        raise AddressError("no free block of loopback addresses")

    @property
    def base(self) -> str:
        return self.hosts[0]

    def release(self) -> None:
        """Let other runs take the block (closing the file drops the lock)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def find_free_host_base(count: int, ports: list[int], seed: int | None = None) -> str:
    """A 127.x.0.11 base whose `count` hosts have all `ports` free, not kept reserved.

    For a short-lived listener of the caller's own; a topology reserves its block."""
    block = AddressBlock.reserve(count, ports, seed)
    block.release()
    return block.base
