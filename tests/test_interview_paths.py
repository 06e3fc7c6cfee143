"""Every path through the interactive interview ends in a repository.

copier validates a question's default before it shows the question
(`Question.get_default()` calls `validate_answer()`), so a default that is invalid for
the earlier answers ends the interview with a traceback, and the person never sees the
question that would fix it. These walks run copier's own interview loop
(`Worker._ask`), with a scripted person in place of the terminal: at each prompt the
person picks one of the choices, or one of a few edge answers of the field that
copier's validator for that prompt accepts (the default among them). Any exception is
a path on which a person would have lost every answer.

The real terminal is tested in tests/test_interview_terminal.py; this one covers the
paths, cheaply (no rendering, no terminal). copier compiles every templated default,
`when`, help and validator anew each time it renders one (Jinja's `from_string` has no
cache): 60,000 compiles of the same few hundred strings for 40 walks, 80% of the time.
Each Worker keeps what it compiled (`copier_compiles_once`, tests/fixtures/generation.py).
"""

from __future__ import annotations

import random

import copier._main as copier_main
import pytest
from copier._main import Worker

from tests.fixtures.generation import TEMPLATE_TAG
from tests.fixtures.interview import scripted_person


@pytest.mark.parametrize("seed", range(2))
def test_every_path_through_the_interview_reaches_the_end(
    template_src, tmp_path, monkeypatch, seed
):
    """40 walks per seed, each choice and edge answer drawn at random (reproducible)."""
    rng = random.Random(seed)
    monkeypatch.setattr(copier_main, "unsafe_prompt", scripted_person(rng))
    worker = Worker(
        src_path=str(template_src),
        dst_path=tmp_path / "never-written",
        vcs_ref=TEMPLATE_TAG,
        unsafe=True,
        quiet=True,
    )
    topologies = set()
    for walk in range(40):
        try:
            worker._ask()
        except Exception as error:  # noqa: BLE001 - any exception is a lost interview
            asked = dict(worker.answers.user)
            pytest.fail(f"walk {seed}/{walk} ended in {error!r} after answers {asked}")
        topologies.add(worker.answers.user["topology"])
    assert topologies == {"sentinel", "cluster", "elasticache"}
