"""Benchmarks of the template and of what it generates; kept apart from the tests.

Run them all with `make bench` (or `python -m benchmarks`), one with
`python -m benchmarks failover`. Each benchmark prints ONE JSON line (machine
readable, prefixed by nothing) and a readable table; docs/performance.md records
the latest figures and the targets they are measured against.

Everything runs on this machine: real copier, real redis-server / redis-sentinel
processes on loopback addresses (127.0.0.x), nothing else on the network.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# name -> module; `python -m benchmarks NAME` runs one, no name runs all in this order.
BENCHMARKS = {
    "generation": "benchmarks.generation",
    "validation": "benchmarks.validation",
    "read_spread": "benchmarks.read_spread",
    "failover": "benchmarks.failover",
    "partition": "benchmarks.partition",
    "throughput": "benchmarks.throughput",
    "rotation": "benchmarks.rotation",
}


def machine() -> dict:
    """The facts that make figures comparable: cores, CPU, Python, redis-py, redis-server."""
    import subprocess

    import redis

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        server = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.split()
        server_version = next((w.split("=", 1)[1] for w in server if w.startswith("v=")), "?")
    except (OSError, subprocess.SubprocessError):
        server_version = "not installed"
    try:
        import copier

        copier_version = getattr(copier, "__version__", None)
        if not copier_version:
            from importlib.metadata import version

            copier_version = version("copier")
    except Exception:  # noqa: BLE001 - a missing version is not worth failing over
        copier_version = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "redis_py": redis.__version__,
        "redis_server": server_version,
        "copier": copier_version,
    }


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def emit(name: str, result: dict, headers: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Print the JSON line, then the table."""
    print(json.dumps({"benchmark": name, **result}, sort_keys=False, default=str), flush=True)
    print(table(headers, rows), flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    if value is None:
        return "-"
    return str(value)


def log(message: str) -> None:
    """Progress goes to stderr so stdout stays JSON line + table."""
    print(message, file=sys.stderr, flush=True)
