"""The portal rendition: copier's template as a stock cookiecutter template.

Backstage's `fetch:cookiecutter` action copies the folder at its `url` into
`<tmp>/template/{{cookiecutter and 'contents'}}/`, writes `<tmp>/template/cookiecutter.json`
from the folder's own cookiecutter.json and the step's `values`, and runs plain
`cookiecutter --no-input` on it (CONTEXT.md §3). So the folder holds the repository's own
files and nothing else, only stock Jinja is available (no copier filters, no project
module, no `includes/`), and every value arrives as the step's `values` say.

The rendition is made mechanically from copier.yml and template/, never by hand:

* each `.jinja` file starts with a *prelude* of `{% set %}` tags that renders nothing.
  It binds every answer under its copier name (cast to the question's type, the
  templated default applied when the form left the field empty), every computed value
  of copier.yml (its default expression, evaluated once per file), copier's
  `_copier_answers` and `_copier_conf.answers_file`, and it checks the rules that tie
  two answers together (the form checks one field at a time);
* files copier copies verbatim are listed in the step's `copyWithoutRender`;
* `{% include %}` of another template file is inlined, and the macro files that
  defaults and validators import are inlined into the prelude;
* a path segment `{% if CONDITION %}name{% endif %}` puts its files into a separate
  folder that a step fetches only when CONDITION holds (rendered by `portal.steps`).

What a template uses that stock Jinja lacks is an ExportError at export time, not a
failed button in the portal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import jinja2
from jinja2 import meta as jinja_meta
from jinja2 import nodes

from redis_scaffold.errors import UsageError


class ExportError(UsageError):
    """The copier template uses something the cookiecutter rendition cannot reproduce."""


CASTS = {"str": "", "int": "|int", "float": "|float"}
TRUE_WORDS = "['true', 'yes', 'y', 'on', '1']"  # copier's own bool casting accepts these
IMPORT = re.compile(r"\{%-?\s*from\s+'([^']+)'\s+import\s+[\w\s,]+?\s*-?%\}")
INCLUDE = re.compile(r"\{%\s*include\s+'([^']+)'\s*%\}")
CONDITIONAL = re.compile(r"^\{%\s*if\s+(.+?)\s*%\}(.*?)\{%\s*endif\s*%\}$")
VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
_STOCK = jinja2.Environment()


@dataclass(frozen=True)
class Question:
    """One entry of copier.yml, as far as rendering needs it."""

    name: str
    type: str
    default: Any
    computed: bool = False
    multiselect: bool = False
    validator: str | None = None
    when: str | None = None  # asked (and recorded) only when this renders true

    @property
    def templated_default(self) -> bool:
        return isinstance(self.default, str) and ("{{" in self.default or "{%" in self.default)


def load_questions(config: dict) -> list[Question]:
    result = []
    for name, spec in config.items():
        if name.startswith("_"):
            continue
        spec = spec if isinstance(spec, dict) else {"default": spec}
        computed = spec.get("when") is False
        kind = spec.get("type")
        if kind is None:
            if computed:
                raise ExportError(f"computed value {name!r} needs an explicit type: in copier.yml")
            kind = {bool: "bool", int: "int", float: "float"}.get(type(spec.get("default")), "str")
        if kind not in (*CASTS, "bool"):
            raise ExportError(
                f"question {name!r} has type {kind!r}; the rendition knows "
                f"{sorted([*CASTS, 'bool'])}"
            )
        if spec.get("secret"):
            raise ExportError(f"secret question {name!r}: the portal form has no secret answers")
        when = None if computed else spec.get("when")
        if when is not None and not isinstance(when, str):
            when = None  # `when: true` is the same as no `when`
        result.append(
            Question(
                name,
                kind,
                spec.get("default"),
                computed,
                bool(spec.get("multiselect")),
                spec.get("validator"),
                when if isinstance(when, str) else None,
            )
        )
    return result


# --------------------------------------------------------------------- Jinja text
def uses_only_stock_jinja(source: str) -> bool:
    """True when every filter and test in `source` exists in plain Jinja."""
    try:
        tree = _STOCK.parse(source)
    except jinja2.TemplateSyntaxError:
        return False
    return all(node.name in _STOCK.filters for node in tree.find_all(nodes.Filter)) and all(
        node.name in _STOCK.tests for node in tree.find_all(nodes.Test)
    )


def _strip_imports(source: str, imported: set[str]) -> str:
    def drop(match: re.Match) -> str:
        imported.add(match.group(1))
        return ""

    return IMPORT.sub(drop, source)


def _cast(question: Question, expression: str) -> str:
    if question.multiselect:
        return f"(({expression}).split(',') if {expression} else [])"
    if question.type == "bool":
        return f"(({expression})|string|lower in {TRUE_WORDS})"
    return f"(({expression}){CASTS[question.type]})"


class Prelude:
    """The `{% set %}` tags that give a cookiecutter file copier's context."""

    def __init__(
        self,
        questions: list[Question],
        read: callable,
        answers_file: str,
        src_path: str,
        commit: str,
    ) -> None:
        self.questions = questions
        self.read = read  # relative path -> text of a macro file in the template root
        self.answers_file = answers_file
        self.src_path = src_path
        self.commit = commit

    def text(self) -> str:
        imported: set[str] = set()
        # set in branches below; copier's UNSET (a question without a default) leaves the
        # answer empty here: the form asks for it, and its rule refuses it empty.
        tags = ["{% set __check = '' %}{% set _ = none %}{% set UNSET = '' %}"]
        for q in self.questions:
            raw = f"cookiecutter.get({q.name!r}, '')"
            if q.when:  # copier asks and records it only when `when` renders true
                tags.append(self._block(f"__when_{q.name}", q.when, imported))
                tags.append(
                    f"{{% set __asked_{q.name} = __when_{q.name}|trim|lower in {TRUE_WORDS} %}}"
                )
            if q.computed:
                tags.append(self._block(f"__{q.name}", q.default, imported))
                tags.append(f"{{% set {q.name} = {_cast(q, f'__{q.name}')} %}}")
            elif q.templated_default or q.when:
                # An answer the form left out takes copier's default; like copier, a
                # value given for an unasked question is used but not recorded.
                default = q.default
                if q.multiselect and isinstance(default, list):
                    default = ",".join(map(str, default))  # as the form sends a list
                tags.append(self._block(f"__{q.name}", default, imported))
                chosen = f"({raw} if {raw}|string != '' else __{q.name})"
                if q.multiselect and q.when:
                    # The form always sends a shown list, and an empty one is "none";
                    # only a list it did not show takes copier's default.
                    chosen = f"({raw} if __asked_{q.name} else __{q.name})"
                tags.append(f"{{% set {q.name} = {_cast(q, chosen)} %}}")
            else:
                tags.append(f"{{% set {q.name} = {_cast(q, 'cookiecutter.' + q.name)} %}}")
        stubbed: set[str] = set()
        tags += self._checks(imported, stubbed)
        recorded = [q for q in self.questions if not q.computed]
        answers = ", ".join(
            [f"'_commit': {self.commit!r}", f"'_src_path': {self.src_path!r}"]
            + [f"{q.name!r}: {q.name}" for q in recorded if not q.when]
        )
        tags.append(f"{{% set _copier_answers = {{{answers}}} %}}")
        tags += [
            f"{{% if __asked_{q.name} %}}{{% set _ = _copier_answers.update("
            f"{{{q.name!r}: {q.name}}}) %}}{{% endif %}}"
            for q in recorded
            if q.when
        ]
        tags.append(f"{{% set _copier_conf = {{'answers_file': {self.answers_file!r}}} %}}")
        macros = "".join(self._macros(name) for name in sorted(imported))
        macros += "".join(self._stubs(name) for name in sorted(stubbed))
        return macros + "".join(tags)

    @staticmethod
    def _block(name: str, source: str, imported: set[str]) -> str:
        return f"{{% set {name} %}}{_strip_imports(str(source), imported)}{{% endset %}}"

    def _checks(self, imported: set[str], stubbed: set[str]) -> list[str]:
        """copier's validators that plain Jinja can evaluate, as a failing lookup.

        Cookiecutter has no way to raise a message; a StrictUndefined lookup of the
        message itself does it: the action's log then reads
        `'...' has no attribute 'Validation error for question X: <rule>'`.
        """
        tags = []
        for q in self.questions:
            if q.computed or not q.validator:
                continue
            needed: set[str] = set()
            body = _strip_imports(q.validator, needed)
            if not uses_only_stock_jinja(body):
                continue
            stock = {name for name in needed if uses_only_stock_jinja(self.read(name))}
            # Macros that need copier's regex filter check one field against a pattern,
            # which the form already checks: here they are stubs that accept anything,
            # so the rest of the validator (a release floor, a rule between answers) runs.
            imported |= stock
            stubbed |= needed - stock
            check = (
                f"{{% set __check %}}{body}{{% endset %}}"
                f"{{% if __check|trim %}}{{{{ cookiecutter['Validation error for "
                f"question {q.name}: ' ~ __check|trim] }}}}{{% endif %}}"
            )
            # copier validates only the questions it asks
            tags.append(f"{{% if __asked_{q.name} %}}{check}{{% endif %}}" if q.when else check)
        return tags

    def _stubs(self, name: str) -> str:
        """Each macro of `name` as one that renders nothing, whatever its arguments."""
        tree = _STOCK.parse(self.read(name))
        return "".join(
            f"{{% macro {m.name}() %}}{{% if varargs or kwargs %}}{{% endif %}}{{% endmacro %}}"
            for m in tree.find_all(nodes.Macro)
        )

    def _macros(self, name: str) -> str:
        source = self.read(name)
        if not uses_only_stock_jinja(source):
            raise ExportError(
                f"{name} uses filters or tests that plain Jinja lacks; the "
                "portal rendition needs it: move those macros to another file"
            )
        if _STOCK.from_string(source).render().strip():
            raise ExportError(f"{name} renders text outside its macros")
        return source


def inline_includes(source: str, read: callable, depth: int = 0) -> str:
    if depth > 5:
        raise ExportError("includes nested more than 5 deep")
    return INCLUDE.sub(lambda m: inline_includes(read(m.group(1)), read, depth + 1), source)


def render_file(prelude: str, body: str, path: str) -> str:
    """A template file of the rendition; raises when it needs more than the prelude gives."""
    text = prelude + body
    try:
        tree = _STOCK.parse(text)
    except jinja2.TemplateSyntaxError as error:
        raise ExportError(f"{path}: {error}") from error
    missing = jinja_meta.find_undeclared_variables(tree) - {"cookiecutter"}
    if missing:
        raise ExportError(f"{path} uses {sorted(missing)}, which the rendition does not define")
    unknown = sorted(
        {n.name for n in tree.find_all(nodes.Filter) if n.name not in _STOCK.filters}
        | {n.name for n in tree.find_all(nodes.Test) if n.name not in _STOCK.tests}
    )
    if unknown:
        raise ExportError(f"{path} uses {unknown}, which plain Jinja lacks")
    if IMPORT.search(body) or re.search(r"\{%-?\s*(import|include|extends)\b", body):
        raise ExportError(f"{path}: imports, includes and extends are not supported here")
    return text


# ---------------------------------------------------------------------- file names
@dataclass(frozen=True)
class Placement:
    """Where a template file lands: its rendition path and the conditions it needs."""

    path: PurePosixPath
    conditions: tuple[str, ...]


def place(rel: PurePosixPath, names: dict[str, str], questions: dict[str, Question]) -> Placement:
    """Resolve copier's file-name Jinja: constants, plain answers and `{% if %}` segments."""
    parts, conditions = [], []
    for part in rel.parts:
        match = CONDITIONAL.match(part)
        if match:
            conditions.append(match.group(1))
            part = match.group(2)
        if "{%" in part:
            raise ExportError(
                f"{rel}: only `{{% if CONDITION %}}name{{% endif %}}` segments "
                "are supported in file names"
            )

        def name(m: re.Match) -> str:
            key = m.group(1)
            if key in names:
                return names[key]
            q = questions.get(key)
            if q and not q.computed and not q.templated_default and q.type == "str":
                return f"{{{{ cookiecutter.{key} }}}}"
            raise ExportError(f"{rel}: file names may use plain text answers only, not {key!r}")

        parts.append(VARIABLE.sub(name, part))
    if not all(parts):
        raise ExportError(f"{rel}: a path segment renders empty")
    return Placement(PurePosixPath(*parts), tuple(conditions))


def backstage_condition(conditions: tuple[str, ...], questions: dict[str, Question]) -> str:
    """`${{ ... }}` for a step's `if:` from Jinja conditions over plain answers."""
    parts = [
        _expression(_STOCK.parse(f"{{{{ {c} }}}}").body[0].nodes[0], questions) for c in conditions
    ]
    return "${{ " + " and ".join(f"({p})" if len(parts) > 1 else p for p in parts) + " }}"


def _expression(node: nodes.Node, questions: dict[str, Question]) -> str:
    if isinstance(node, nodes.Name):
        q = questions.get(node.name)
        if q is None or q.computed or q.templated_default:
            raise ExportError(
                f"a file-name condition may test plain answers only, not {node.name!r}"
            )
        return f"parameters.{node.name}"
    if isinstance(node, nodes.Const) and isinstance(node.value, (str, int, bool)):
        return repr(node.value) if isinstance(node.value, str) else str(node.value).lower()
    if isinstance(node, nodes.Not):
        return f"not ({_expression(node.node, questions)})"
    if isinstance(node, (nodes.And, nodes.Or)):
        op = "and" if isinstance(node, nodes.And) else "or"
        return f"({_expression(node.left, questions)} {op} {_expression(node.right, questions)})"
    if isinstance(node, nodes.Compare) and len(node.ops) == 1:
        ops = {"eq": "==", "ne": "!=", "in": "in", "notin": "not in"}
        op = node.ops[0]
        if op.op in ops:
            left = _expression(node.expr, questions)
            right = _expression(op.expr, questions)
            return f"{left} {ops[op.op]} {right}"
    raise ExportError(f"unsupported file-name condition: {node}")
