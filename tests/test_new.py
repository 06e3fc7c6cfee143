"""A bad answer given on the command line: one line naming the field, the rule, the value.

copier's own CLI prints a Python traceback for it (pinned below, so that the day copier
prints it cleanly, docs/questions.md is revisited); `redis-scaffold new` takes the same
arguments and prints one line, exits 2 and writes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.copier_cli import copier_as_installed
from tests.fixtures.generation import TEMPLATE_TAG

NEW = [sys.executable, "-m", "redis_scaffold", "new", "--trust", "--defaults", "-r", TEMPLATE_TAG]


def data_args(answers: dict) -> list[str]:
    return [arg for key, value in answers.items() for arg in ("-d", f"{key}={value}")]


def test_copiers_own_cli_prints_a_traceback_for_a_bad_answer(template_src, tmp_path):
    result = subprocess.run(
        [str(copier_as_installed()), "copy", "--trust", "--defaults", "-r", TEMPLATE_TAG]
        + data_args({"customise": True, "redis_replicas": 4})
        + [str(template_src), str(tmp_path / "svc")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "ValueError: Validation error for question 'redis_replicas': "
        "must be an odd whole number from 3 to 9 (got '4')"
    )


BAD = [
    ({"redis_replicas": 4}, "redis_replicas: must be an odd whole number from 3 to 9 (got '4')"),
    ({"redis_replicas": "five"}, "redis_replicas: must be a whole number (got 'five')"),
    (
        {"redis_memory_request": "1Gi", "redis_memory_limit": "512Mi"},
        "redis_memory_limit: must not be below redis_memory_request, 1Gi (got '512Mi')",
    ),
    (
        {"topology": "elasticache"},
        "vpc_id: required, it has no default here; answer it with --data vpc_id=VALUE",
    ),
    ({"size": "huge"}, "Invalid choice for 'size': 'huge' is not in ['small', 'medium', 'large']"),
]


@pytest.mark.parametrize("answers,line", BAD, ids=[line.split(":")[0] for _, line in BAD])
def test_redis_scaffold_new_reports_a_bad_answer_in_one_line(template_src, tmp_path, answers, line):
    dst = tmp_path / "svc"
    result = subprocess.run(
        NEW + data_args({"customise": True} | answers) + [str(template_src), str(dst)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stderr.splitlines()) == (2, [f"redis-scaffold new: {line}"])
    assert not dst.exists() or not any(dst.iterdir())


def test_redis_scaffold_new_generates_what_copier_generates(template_src, generate, tmp_path):
    """A raised memory request alone is no error: the limit's default follows it."""
    answers = {"customise": True, "redis_memory_request": "1Gi"}
    subprocess.run(
        NEW + ["-q"] + data_args(answers) + [str(template_src), str(tmp_path / "new")],
        check=True,
        timeout=300,
    )
    reference = generate(answers, name="reference")
    made = yaml.safe_load((tmp_path / "new" / ".copier-answers.yml").read_text())
    assert made == yaml.safe_load((reference / ".copier-answers.yml").read_text())
    assert made["redis_memory_limit"] == "1Gi"
    files = sorted(p.relative_to(tmp_path / "new") for p in (tmp_path / "new").rglob("*"))
    assert files == sorted(p.relative_to(reference) for p in Path(reference).rglob("*"))
