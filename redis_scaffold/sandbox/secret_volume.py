"""A Kubernetes Secret volume on disk, written the way the kubelet writes it.

The kubelet's atomic writer puts a Secret's keys in a timestamped directory
(`..2026_12_03_06_30_00.123456789/password`), points the `..data` symlink at it, and
gives each key a symlink through it (`password -> ..data/password`). On an update it
writes a new timestamped directory, swaps `..data` to it with one rename (a reader sees
the old file or the new one, never half of either), then removes the old directory.

    volume = SecretVolume(workdir / "redis-password")
    volume.write(password)                 # the mount as the pod starts
    env["REDIS_PASSWORD_FILE"] = str(volume.path)
    volume.write(new_password)             # the Secret changed: the kubelet refreshed it
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

DATA = "..data"


class SecretVolume:
    """One key (`key`, the file name the redis-env component's `items` give it) of a
    Secret, mounted at `root`. Files are created 0600 in a 0700 directory."""

    def __init__(self, root: Path, key: str = "password") -> None:
        self.root, self.key = Path(root), key

    @property
    def path(self) -> Path:
        """What the app reads (REDIS_PASSWORD_FILE)."""
        return self.root / self.key

    def write(self, value: str) -> None:
        """Publish `value` atomically, as the kubelet does on a Secret's update."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + f"{time.time_ns():d}"
        fresh = self.root / stamp
        fresh.mkdir(mode=0o700)
        fd = os.open(fresh / self.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
        data = self.root / DATA
        old = os.readlink(data) if data.is_symlink() else None
        tmp = self.root / "..data_tmp"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(stamp)
        tmp.rename(data)  # the atomic swap
        if not self.path.is_symlink():
            self.path.symlink_to(Path(DATA) / self.key)
        if old:
            shutil.rmtree(self.root / old, ignore_errors=True)
