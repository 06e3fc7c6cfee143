"""A generated repository, as the hooks see it: its recorded copier answers."""

from __future__ import annotations

from pathlib import Path

import yaml

ANSWERS_FILE = ".copier-answers.yml"


class NotGeneratedError(FileNotFoundError):
    """The directory has no answers file, so it was not generated (or not adopted)."""


def read_answers(project: Path, missing_ok: bool = False) -> dict:
    """The answers recorded in `project`'s answers file ({} if absent and missing_ok)."""
    path = Path(project) / ANSWERS_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise NotGeneratedError(f"{path} not found: is {project} a generated repository?")
    return yaml.safe_load(path.read_text()) or {}
