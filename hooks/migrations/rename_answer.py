"""A migration step for a release that renames a question: OLD becomes NEW in the answers.

Without it, `copier update` to the release that renames the question would drop the
team's recorded answer and use the new question's default. Run by copier
(`_migrations`, stage `before`) with its own Python, from the repository being updated:

    python rename_answer.py OLD NEW ANSWERS_FILE

A no-op when the answers hold no OLD (already renamed, or never recorded) or already
hold NEW. Standard library only; only the key is rewritten, the rest of the file kept.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def rename_answer(answers_file: Path, old: str, new: str) -> bool:
    text = answers_file.read_text()
    if re.search(rf"^{re.escape(new)}:", text, flags=re.M):
        return False
    renamed, count = re.subn(rf"^{re.escape(old)}:", f"{new}:", text, flags=re.M)
    if count:
        answers_file.write_text(renamed)
    return bool(count)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: rename_answer.py OLD NEW ANSWERS_FILE")
    old, new, path = sys.argv[1:]
    if rename_answer(Path(path), old, new):
        print(f"migration: answer {old} renamed to {new}")
