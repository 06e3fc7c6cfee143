"""python -m benchmarks [NAME ...] [--runs N]: run the benchmarks (all by default).

Each benchmark module has `main(argv) -> int`; options after the names are passed on
(--runs N sets the number of repetitions where a benchmark repeats).
"""

from __future__ import annotations

import importlib
import sys

from benchmarks import BENCHMARKS, emit, log, machine


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-") and a in BENCHMARKS]
    unknown = [
        a
        for i, a in enumerate(argv)
        if not a.startswith("-")
        and a not in BENCHMARKS
        and not (i and argv[i - 1].startswith("--"))
    ]
    if unknown or "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        print(f"benchmarks: {', '.join(BENCHMARKS)}")
        return 2 if unknown else 0
    options = [a for a in argv if a not in names]
    facts = machine()
    emit("machine", facts, ["fact", "value"], [[k, v] for k, v in facts.items()])
    status = 0
    for name in names or list(BENCHMARKS):
        log(f"== benchmark {name}")
        status |= importlib.import_module(BENCHMARKS[name]).main(options) or 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
