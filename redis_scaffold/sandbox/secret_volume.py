"""A Kubernetes Secret mounted as a volume, as the kubelet lays it out, on local disk.

The kubelet writes a Secret volume's files into a new timestamped directory, then swaps
the `..data` symlink to it in one rename; each key's file is a symlink through `..data`.
A reader therefore sees either the old set of files or the new one, never a mix, and the
files change in place when the Secret changes (no subPath), while the containers' env
keeps what it held when they started. The sandbox uses it for what the generated
StatefulSets and Deployments mount (PASSWORD_FILE, REDIS_PASSWORD_FILE).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

DATA = "..data"


class SecretVolume:
    """The mount point `path`; write() is one refresh of the Secret by the kubelet."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def file(self, key: str) -> Path:
        return self.path / key

    def write(self, files: dict[str, str]) -> None:
        """Replace the volume's files with `files` (key -> value) in one atomic swap."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)
        version = self.path / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
        version.mkdir(mode=0o700)
        for key, value in files.items():
            target = version / key
            target.write_text(value)
            target.chmod(0o400)
        staged = self.path / "..data_tmp"
        staged.unlink(missing_ok=True)
        staged.symlink_to(version.name)
        old = os.readlink(self.path / DATA) if (self.path / DATA).is_symlink() else None
        os.replace(staged, self.path / DATA)
        for key in files:
            link = self.path / key
            if not link.is_symlink():
                link.symlink_to(f"{DATA}/{key}")
        for stale in self.path.iterdir():
            if stale.is_symlink() and stale.name not in files and not stale.name.startswith(".."):
                stale.unlink()
        if old:
            shutil.rmtree(self.path / old, ignore_errors=True)
