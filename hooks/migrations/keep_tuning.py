"""Migration to 0.2.0: a repository made before it keeps every answer it recorded.

Before 0.2.0 every question was asked and recorded. From 0.2.0 the tuning questions
are asked (and recorded) only when `customise` is yes, and copier drops a recorded
answer whose question is not asked: without this step an update would silently reset
a team's pod count, timing or resources to the template's defaults. So, before the
update renders, an answers file with tuning answers and no `customise` gets
`customise: true`.

Run by copier (`_migrations` in copier.yml) with its own Python, from the repository
being updated: `python keep_tuning.py ANSWERS_FILE`. Standard library only; the file
is appended to, never reformatted (copier rewrites it after the update anyway).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# A key any pre-0.2.0 answers file recorded, and that only a customised one records now.
TUNING_MARK = "redis_replicas"


def keys(text: str) -> set[str]:
    return set(re.findall(r"^([A-Za-z_][\w-]*):", text, flags=re.M))


def keep_tuning(answers_file: Path) -> bool:
    """Mark the answers as customised when they hold tuning answers; True if changed."""
    text = answers_file.read_text()
    found = keys(text)
    if "customise" in found or TUNING_MARK not in found:
        return False
    answers_file.write_text(text.rstrip("\n") + "\ncustomise: true\n")
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: keep_tuning.py ANSWERS_FILE")
    if keep_tuning(Path(sys.argv[1])):
        print("migration 0.2.0: recorded tuning answers kept (customise: true)")
