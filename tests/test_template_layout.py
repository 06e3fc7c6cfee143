"""The template's own layout (docs/layout.md, "Where the variants live in the template").

A person looking for the source of a generated file finds one file at its path: what
differs by topology is a part in includes/<topology>/, a folder only some answers get is
chosen once by `_exclude`, and the few files only some answers get say so with one
short condition in their name. Nothing here renders: the generation tests run copier.
"""

from __future__ import annotations

import re
from collections import Counter

import yaml

from tests.fixtures.generation import REPO_ROOT, git

CONDITION = re.compile(r"\{%\s*if\s+(.+?)\s*%\}(.*?)\{%\s*endif\s*%\}")
INCLUDE = re.compile(r"\{%\s*include\s+'([^']+)'\s*%\}")
MAX_CONDITIONAL_FILES = 15  # issue 21: was 68 of 81


def tracked(folder: str) -> list[str]:
    listed = git(REPO_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z", folder)
    return [p for p in listed.split("\0") if p and (REPO_ROOT / p).is_file()]


def output_path(source: str) -> str:
    path = CONDITION.sub(r"\2", source.removeprefix("template/"))
    return path.removesuffix(".jinja")


def test_each_generated_path_has_one_source_with_at_most_one_short_condition():
    files = tracked("template")
    conditional = [f for f in files if CONDITION.search(f)]
    assert len(conditional) <= MAX_CONDITIONAL_FILES, "\n".join(conditional)
    assert [f for f in files if len(CONDITION.findall(f)) > 1] == []
    several = [p for p, n in Counter(output_path(f) for f in files).items() if n > 1]
    assert several == [], "one source file per generated path"


def test_folders_that_only_some_answers_get_are_chosen_in_copier_yml():
    config = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    folders = [CONDITION.fullmatch(entry).group(2) for entry in config["_exclude"]]
    for folder in folders:
        assert (REPO_ROOT / "template" / folder).is_dir(), f"_exclude names {folder}"
    # Conditions sit on file names only: a folder's condition is its _exclude entry.
    assert not [f for f in tracked("template") if "{%" in f.rsplit("/", 1)[0]]


def test_every_part_in_includes_is_included_somewhere():
    sources = tracked("template") + tracked("includes")
    included = {
        name
        for f in sources
        if f.endswith(".jinja")
        for name in INCLUDE.findall((REPO_ROOT / f).read_text())
    }
    macros = {"includes/patterns.jinja", "includes/rules.jinja", "includes/sizes.jinja"}
    unused = [f for f in tracked("includes") if f not in included and f not in macros]
    assert unused == [], "parts no template file includes"
