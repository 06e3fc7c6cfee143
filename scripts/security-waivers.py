#!/usr/bin/env python3
"""Render security/waivers.yml as the waiver table of docs/security.md.

    .venv/bin/python scripts/security-waivers.py           rewrite the table in place
    .venv/bin/python scripts/security-waivers.py --check   exit 1 when the table is stale

The table sits between the two marker comments below; everything else in the page is
written by hand. tests/test_security.py runs --check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WAIVERS = ROOT / "security" / "waivers.yml"
DOC = ROOT / "docs" / "security.md"
BEGIN = (
    "<!-- waivers:begin (generated from security/waivers.yml by scripts/security-waivers.py) -->"
)
END = "<!-- waivers:end -->"


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table() -> str:
    rows = [
        "| check | scanner | where | what it asks | why it stays |",
        "| --- | --- | --- | --- | --- |",
    ]
    for w in yaml.safe_load(WAIVERS.read_text())["waivers"]:
        where = "<br>".join(f"`{cell(x)}`" for x in w["where"])
        rows.append(
            f"| `{w['check']}` | {w['scanner']} | {where} | {cell(w['title'])} | {cell(w['reason'])} |"
        )
    return "\n".join(rows)


def render(doc: str) -> str:
    head, found, rest = doc.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"{DOC.relative_to(ROOT)} lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    doc = DOC.read_text()
    fresh = render(doc)
    if "--check" in argv:
        if fresh != doc:
            print(
                f"{DOC.relative_to(ROOT)}: the waiver table is stale: run "
                ".venv/bin/python scripts/security-waivers.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
