"""The parts import in one direction only (docs/layout.md draws it).

Read from the source, not by importing it: every `import` and `from ... import`,
lazy ones inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# part -> the top-level parts (or library subpackages) it must never import
FORBIDDEN = {
    "redis_scaffold": {"tests", "benchmarks"},
    # (service/post_copy.py runs its commands through cli.py, where errors become exit codes)
    "redis_scaffold.service": {"redis_scaffold.sandbox", "redis_scaffold.portal"},
    "redis_scaffold.portal": {
        "redis_scaffold.sandbox",
        "redis_scaffold.service",
        "redis_scaffold.cli",
    },
    "redis_scaffold.sandbox": {"redis_scaffold.portal", "redis_scaffold.cli"},
    "hooks": {"tests", "benchmarks", "redis_scaffold.sandbox", "redis_scaffold.portal"},
    "tests": {"benchmarks"},
    "benchmarks": {"tests"},
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, part: str) -> bool:
    return name == part or name.startswith(part + ".")


@pytest.mark.parametrize("part", FORBIDDEN)
def test_a_part_never_imports_what_depends_on_it(part):
    folder = ROOT / Path(*part.split("."))
    sources = sorted(p for p in folder.rglob("*.py") if "node_modules" not in p.parts)
    assert sources, f"no sources under {folder}"
    wrong = []
    for path in sources:
        here = module_name(path)
        for name in imported(path):
            for banned in FORBIDDEN[part]:
                if within(name, banned) and not within(here, banned):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
