"""What the topology benchmarks share: a generated repository and its topology on loopback."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier

from redis_scaffold.sandbox.snapshot import TEMPLATE_TAG, snapshot_template
from redis_scaffold.sandbox.topology import LocalTopology

TAG = TEMPLATE_TAG
READY_S = 60


@contextmanager
def generated_repo(answers: dict | None = None) -> Iterator[Path]:
    """The working tree's template, snapshotted and tagged, copied with the default answers."""
    with tempfile.TemporaryDirectory(prefix="bench-repo-") as tmp:
        src = Path(tmp) / "template"
        src.mkdir()
        snapshot_template(src, TAG)
        repo = Path(tmp) / "svc"
        copier.run_copy(
            str(src),
            repo,
            data=answers or {},
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref=TAG,
            skip_tasks=True,
        )
        yield repo


@contextmanager
def running_topology(repo: Path, **kwargs) -> Iterator[LocalTopology]:
    """A started, ready LocalTopology of `repo` (on a loopback block it reserves); closed on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-topology-") as work,
        LocalTopology(repo, Path(work), **kwargs) as topo,
    ):
        topo.wait_until_ready(READY_S)
        yield topo
