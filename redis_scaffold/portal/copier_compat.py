"""A cookiecutter (Jinja) extension that renders a copier template the way copier does.

`redis-scaffold backstage export` copies this file, unchanged, into the cookiecutter
rendition of the template (backstage/skeleton/copier_compat.py) and lists it in
cookiecutter.json's `_extensions`. Everything template-specific lives in the
`_copier` entry of cookiecutter.json (questions in copier.yml order, their types,
choices, defaults, `when` and validators; the answers file name; the template URL
and release tag), so this code is generic and knows nothing about Redis.

Cookiecutter renders three kinds of strings, and each gets copier's context
(answers cast to their copier types, computed `when: false` values, `_copier_answers`,
`_copier_conf`) instead of cookiecutter's `{{ cookiecutter.x }}` namespace:

* a question's default, while cookiecutter fills its dict (prompt time): rendered with
  the answers given so far, as copier's `Question.get_default` does;
* a file or directory name: rendered part by part, and a path with a part that renders
  empty is skipped, as copier skips it (cookiecutter would otherwise write it);
* a file's content: rendered with the full context, after copier's validators ran.

This module must stay standalone: it runs inside the developer portal, where only
cookiecutter and jinja2-ansible-filters are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import weakref
from pathlib import PurePath
from typing import Any

import yaml
from jinja2 import FileSystemLoader, Template, Undefined
from jinja2.ext import Extension

META_KEY = "_copier"


class CopierValidationError(ValueError):
    """An answer that copier's validator (or type or choices) would refuse."""


# ------------------------------------------------------------ copier's casting rules
def _to_bool(value: Any) -> bool:
    try:
        return bool(float(value))
    except (TypeError, ValueError):
        pass
    if isinstance(value, str):
        lower = value.strip().lower()
        if not lower:
            return False
        if lower in {"y", "yes", "t", "true", "on"}:
            return True
        if lower in {"n", "no", "f", "false", "off", "~", "null", "none"}:
            return False
    return bool(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise CopierValidationError(f"Could not convert {value!r} to string")


CASTS = {
    "str": _to_str,
    "int": int,
    "float": float,
    "bool": _to_bool,
    "json": json.loads,
    "yaml": yaml.safe_load,
    "path": str,
}


def _cast(question: dict, name: str, value: Any) -> Any:
    kind = question["type"]
    try:
        return CASTS[kind](value)
    except (TypeError, AttributeError):
        if kind in {"json", "yaml"}:
            return value
        raise CopierValidationError(f"Invalid answer {value!r} to question {name!r} of type {kind}")
    except ValueError as error:
        raise CopierValidationError(
            f"Invalid answer {value!r} to question {name!r} of type {kind}: {error}"
        ) from error


def _parse(question: dict, name: str, value: Any) -> Any:
    """copier's Question.parse_answer: cast, then check choices (kept in choice order)."""
    choices = [_cast(question, name, c) for c in question.get("choices") or []]
    if question.get("multiselect"):
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip() else []
        if not isinstance(value, list):
            raise CopierValidationError(f"Question {name!r} expects a list, got {value!r}")
        items = [_cast(question, name, v) for v in value]
        bad = [i for i in items if choices and i not in choices]
        if bad:
            raise CopierValidationError(f"Invalid choices {bad!r} for question {name!r}")
        return [c for c in choices if c in items] if choices else items
    answer = _cast(question, name, value)
    if choices and answer not in choices:
        raise CopierValidationError(
            f"Invalid choice {answer!r} for question {name!r}: one of {choices!r}"
        )
    return answer


# ------------------------------------------------------------------ copier's context
class _Context:
    """Builds copier's render context from a (possibly partial) cookiecutter dict."""

    def __init__(self, environment, cookiecutter: dict, *, complete: bool) -> None:
        self.env = environment
        self.meta = cookiecutter[META_KEY]
        self.values = cookiecutter
        self.complete = complete

    def _render(self, source: Any, context: dict) -> Any:
        if not isinstance(source, str):
            return source
        return self.env.from_string(source).copier_render(context)

    def build(self) -> dict:
        meta = self.meta
        if self.env.loader is None and "_repo_dir" in self.values:
            # cookiecutter names the project directory before it sets its loader
            # ('.' and '../templates'); the imports of copier.yml's rules need one.
            self.env.loader = FileSystemLoader(os.path.join(self.values["_repo_dir"], "templates"))
        conf = {
            "answers_file": PurePath(meta["answers_file"]),
            "src_path": meta["src_path"],
            "vcs_ref": meta["commit"],
            "sep": os.sep,
            "os": {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform),
        }
        answers: dict = {}
        hidden: set = set()
        context = {
            "_copier_conf": conf,
            "_copier_answers": {},
            "_copier_operation": "copy",
            "_copier_phase": "render",
            "_copier_python": sys.executable,
            "_folder_name": meta.get("folder_name", ""),
        }
        for name, question in meta["questions"].items():
            context.update(answers)
            asked = question.get("asked", True)
            if asked and name not in self.values:
                break  # prompt time: later questions are not known yet
            when = _to_bool(self._render(question.get("when", True), context))
            if not when:
                hidden.add(name)
            if asked:
                value = self.values[name]
            elif "default" in question:
                value = self._render(question["default"], context)
            else:
                continue
            answers[name] = _parse(question, name, value)
            if self.complete and when and not question.get("secret") and question.get("validator"):
                context.update(answers)
                message = self._render(question["validator"], context).strip()
                if message:
                    raise CopierValidationError(
                        f"Validation error for question '{name}': {message}"
                    )
        context.update(answers)
        recorded = {"_commit": meta["commit"], "_src_path": meta["src_path"]}
        recorded.update(
            (k, v)
            for k, v in answers.items()
            if k not in hidden and not meta["questions"][k].get("secret")
        )
        context["_copier_answers"] = recorded
        return context


# ------------------------------------------------------------- rendering of strings
def _is_templated(part: str) -> bool:
    return "{{" in part or "{%" in part


class CopierTemplate(Template):
    """A Jinja template that renders with copier's context when given cookiecutter's."""

    def copier_render(self, context: dict) -> str:
        return Template.render(self, context)

    def render(self, *args: Any, **kwargs: Any) -> str:
        given = dict(*args, **kwargs)
        cookiecutter = given.get("cookiecutter")
        if not isinstance(cookiecutter, dict) or META_KEY not in cookiecutter:
            return Template.render(self, given)
        generating = "_cookiecutter" in given  # cookiecutter passes it only to generate_files
        context = {**self.environment.copier_context(cookiecutter, generating), **given}
        if self.name is not None or not generating:
            return Template.render(self, context)
        return self._render_path(context)

    def _render_path(self, context: dict) -> str:
        """A file or directory name: each part apart, skipped when one renders empty."""
        source = self.environment.copier_sources.get(self)
        parts = []
        for part in source.split("/"):
            if _is_templated(part):
                part = self.environment.from_string(part).copier_render(context)
                if not part:
                    return self.environment.copier_skipped_path()
            parts.append(part)
        return "/".join(parts)


class CopierCompat(Extension):
    """Load with cookiecutter's `_extensions`; see the module docstring."""

    def __init__(self, environment) -> None:
        super().__init__(environment)
        environment.template_class = CopierTemplate
        environment.undefined = Undefined  # copier's default, not cookiecutter's strict one
        environment.copier_sources = weakref.WeakKeyDictionary()
        cache: dict = {}
        skipped: list = []

        def copier_context(cookiecutter: dict, complete: bool) -> dict:
            key = (id(cookiecutter), complete)
            if not complete or key not in cache:
                cache.clear()
                cache[key] = _Context(environment, cookiecutter, complete=complete).build()
            return cache[key]

        def copier_skipped_path() -> str:
            # cookiecutter writes every path it walks; a path copier skips is sent to a
            # scratch directory outside the project, removed with the environment.
            if not skipped:
                skipped.append(tempfile.mkdtemp(prefix="copier-skipped-"))
                weakref.finalize(environment, shutil.rmtree, skipped[0], True)
            # A fresh name in a fresh directory: cookiecutter may create it as a
            # directory, or write or copy a file to it.
            return os.path.join(tempfile.mkdtemp(dir=skipped[0]), "skipped")

        plain_from_string = environment.from_string

        def from_string(source, *args, **kwargs):
            template = plain_from_string(source, *args, **kwargs)
            if isinstance(source, str):
                environment.copier_sources[template] = source
            return template

        environment.copier_context = copier_context
        environment.copier_skipped_path = copier_skipped_path
        environment.from_string = from_string
        environment.globals.setdefault("pathjoin", lambda *p, mode="posix": "/".join(p))
