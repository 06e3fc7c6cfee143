"""The portal rendition: copier's template as a stock cookiecutter template.

Backstage's `fetch:cookiecutter` action copies the folder at its `url` into
`<tmp>/template/{{cookiecutter and 'contents'}}/`, writes `<tmp>/template/cookiecutter.json`
from the folder's own cookiecutter.json and the step's `values`, and runs plain
`cookiecutter --no-input` on it (CONTEXT.md §3). So the folder holds the repository's own
files and nothing else, only stock Jinja is available (no copier filters, no project
module, no `includes/`), and every value arrives as the step's `values` say.

The rendition is made mechanically from copier.yml and template/, never by hand:

* a *prelude* of `{% set %}` tags, written once per folder as the module
  `.portal-context.jinja`, binds every answer under its copier name (cast to the
  question's type, the templated default applied when the form left the field empty),
  every computed value of copier.yml (its default expression), copier's
  `_copier_answers` and `_copier_conf.answers_file`, and checks the rules that tie two
  answers together (the form checks one field at a time). Each `.jinja` file starts
  with one tag that imports the names it uses from it, through cookiecutter's own
  template loader (Context); a `fs:delete` step removes the module before publishing;
* files copier copies verbatim are listed in the step's `copyWithoutRender`;
* `{% include %}` of another template file is inlined, and the macro files that
  defaults and validators import are inlined into the prelude;
* a path segment `{% if CONDITION %}name{% endif %}` puts its files into a separate
  folder that a step fetches only when CONDITION holds (backstage_condition, which
  gives an answer the form did not show copier's default; folder_label names it).

What a template uses that stock Jinja lacks is an ExportError at export time, not a
failed button in the portal.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
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
    choices: tuple = ()  # the values a choice (or multiselect) question offers

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
                _choices(spec.get("choices")),
            )
        )
    return result


def _choices(choices: Any) -> tuple:
    if isinstance(choices, dict):
        return tuple(choices.values())
    return tuple(choices or ())


# --------------------------------------------------------------------- Jinja text
@functools.cache  # validators import the same macro files again and again
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
        self._made: dict[bool, tuple] = {}

    def text(self, checks: bool = True, needed: set[str] | None = None) -> str:
        """The module. `checks=False` leaves out the rules between answers (the first
        fetch step checks them, and a failed check ends the task there); `needed`, the
        names a folder's files use, leaves out what none of them needs."""
        if checks not in self._made:
            self._made[checks] = self._entries(checks)
        texts, always, graph = self._made[checks]
        if needed is None:
            return "".join(texts)
        keep = _closure(graph, needed, always)
        return "".join(t for i, t in enumerate(texts) if i in keep)

    def _entries(self, checks: bool) -> tuple[list[str], list[int], tuple]:
        imported: set[str] = set()
        # set in branches below; copier's UNSET (a question without a default) leaves the
        # answer empty here: the form asks for it, and its rule refuses it empty.
        entries = [["{% set __check = '' %}{% set _ = none %}{% set UNSET = '' %}"]]
        for q in self.questions:
            tags = []
            entries.append(tags)
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
        always = [0]  # the base entry, and the checks: kept whatever the files use
        if checks:
            always.append(len(entries))
            entries.append(self._checks(imported, stubbed))
        recorded = [q for q in self.questions if not q.computed]
        answers = ", ".join(
            [f"'_commit': {self.commit!r}", f"'_src_path': {self.src_path!r}"]
            + [f"{q.name!r}: {q.name}" for q in recorded if not q.when]
        )
        answers_name, conf_name = PRIVATE["_copier_answers"], PRIVATE["_copier_conf"]
        entries.append(
            [f"{{% set {answers_name} = {{{answers}}} %}}"]
            + [
                f"{{% if __asked_{q.name} %}}{{% set _ = {answers_name}.update("
                f"{{{q.name!r}: {q.name}}}) %}}{{% endif %}}"
                for q in recorded
                if q.when
            ]
        )
        entries.append([f"{{% set {conf_name} = {{'answers_file': {self.answers_file!r}}} %}}"])
        macros = [[self._macros(name)] for name in sorted(imported)]
        macros += [[self._stubs(name)] for name in sorted(stubbed)]
        texts = ["".join(tags) for tags in macros + entries]
        return texts, [len(macros) + i for i in always], _graph(texts)

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
    # `{% with %}` gives the inlined text the scope an include has: its macros and sets stay
    # its own, so two topologies' parts in one `{% if %}` chain can each define `probes()`.
    return INCLUDE.sub(
        lambda m: (
            "{% with %}" + inline_includes(read(m.group(1)), read, depth + 1) + "{% endwith %}"
        ),
        source,
    )


# The prelude is written once per skeleton folder, as a module that every file imports
# from cookiecutter's template loader, whose root is the folder being rendered
# (cookiecutter's generate_files: `FileSystemLoader(['.', '../templates'])` inside the
# `{{cookiecutter...}}` folder, which is where fetch:cookiecutter puts the folder's
# files). A step after the fetches deletes the module before anything is published.
CONTEXT_FILE = ".portal-context.jinja"
# copier's names that Jinja will not import (a leading underscore): exported as these.
PRIVATE = {"_copier_answers": "copier_answers_", "_copier_conf": "copier_conf_"}


class Context:
    """The prelude as an importable module, and the files that import what they use."""

    def __init__(self, text: str) -> None:
        try:
            tree = _STOCK.parse(text)
        except jinja2.TemplateSyntaxError as error:
            raise ExportError(f"the portal context: {error}") from error
        unknown = _unknown(tree)
        if unknown:
            raise ExportError(f"the portal context uses {unknown}, which plain Jinja lacks")
        self.text = text
        self.names = set(_exported(tree.body)) | {"cookiecutter"}

    def render_file(self, body: str, path: str) -> tuple[str, set[str]]:
        """A template file of the rendition, and the context names it imports; raises
        when it needs what the context lacks."""
        try:
            tree = _STOCK.parse(body)
        except jinja2.TemplateSyntaxError as error:
            raise ExportError(f"{path}: {error}") from error
        used = jinja_meta.find_undeclared_variables(tree) - {"cookiecutter"}
        missing = sorted(n for n in used if PRIVATE.get(n, n) not in self.names)
        if missing:
            raise ExportError(f"{path} uses {missing}, which the rendition does not define")
        unknown = _unknown(tree)
        if unknown:
            raise ExportError(f"{path} uses {unknown}, which plain Jinja lacks")
        if IMPORT.search(body) or re.search(r"\{%-?\s*(import|include|extends)\b", body):
            raise ExportError(f"{path}: imports, includes and extends are not supported here")
        module = repr(CONTEXT_FILE)
        if not used:  # still import it: its checks of the answers run in every file
            return f"{{% import {module} as __context with context %}}{body}", set()
        names = ", ".join(f"{PRIVATE[n]} as {n}" if n in PRIVATE else n for n in sorted(used))
        exported = {PRIVATE.get(n, n) for n in used}
        return f"{{% from {module} import {names} with context %}}{body}", exported


def _unknown(tree: nodes.Template) -> list[str]:
    return sorted(
        {n.name for n in tree.find_all(nodes.Filter) if n.name not in _STOCK.filters}
        | {n.name for n in tree.find_all(nodes.Test) if n.name not in _STOCK.tests}
    )


def _graph(texts: list[str]) -> tuple[dict[str, int], list[set[str]]]:
    """Which text defines each name, and the names each text uses."""
    defines: dict[str, int] = {}
    uses = []
    for index, text in enumerate(texts):
        defined, used = _names(text)
        for name in defined:
            defines.setdefault(name, index)
        uses.append(used)
    return defines, uses


@functools.cache  # the checked and unchecked modules share most texts
def _names(text: str) -> tuple[list[str], set[str]]:
    tree = _STOCK.parse(text)
    defined = [
        node.target.name
        for node in tree.find_all((nodes.Assign, nodes.AssignBlock))
        if isinstance(node.target, nodes.Name)
    ]
    defined += [node.name for node in tree.find_all(nodes.Macro)]
    return defined, jinja_meta.find_undeclared_variables(tree)


def _closure(graph: tuple, needed: set[str], always: list[int]) -> set[int]:
    """The indexes of the texts that define `needed`, and of those they need in turn."""
    defines, uses = graph
    keep: set[int] = set()
    todo = always + [defines[n] for n in needed if n in defines]
    while todo:
        index = todo.pop()
        if index not in keep:
            keep.add(index)
            todo += [defines[n] for n in uses[index] if n in defines]
    return keep


def _exported(body: list[nodes.Node]):
    """Names a module's top level defines (what `{% from ... import %}` can take)."""
    for node in body:
        if isinstance(node, (nodes.Assign, nodes.AssignBlock)):
            if isinstance(node.target, nodes.Name) and not node.target.name.startswith("_"):
                yield node.target.name
        elif isinstance(node, nodes.Macro) and not node.name.startswith("_"):
            yield node.name
        elif isinstance(node, nodes.If):
            yield from _exported(node.body)
            yield from _exported(node.else_)


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
    """`${{ ... }}` for a step's `if:` from Jinja conditions over plain answers.

    An answer the form shows only `when` other answers say so takes copier's default
    where the form did not send it, as the context module does: a file name need not
    repeat a question's `when` for its step to be right.
    """
    parts = [_expression(_condition(c), questions) for c in conditions]
    return "${{ " + " and ".join(f"({p})" if len(parts) > 1 else p for p in parts) + " }}"


def _condition(text: str) -> nodes.Node:
    body = _STOCK.parse(f"{{{{ {text} }}}}").body
    return body[0].nodes[0]


def _when(question: Question) -> nodes.Node:
    try:
        body = _STOCK.parse(question.when).body
    except jinja2.TemplateSyntaxError as error:
        raise ExportError(f"{question.name}: its `when` is not Jinja: {error}") from error
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        raise ExportError(f"{question.name}: its `when` must be one {{{{ expression }}}}")
    return body[0].nodes[0]


def _answer(question: Question, questions: dict[str, Question]) -> str:
    ref = f"parameters.{question.name}"
    if not question.when:
        return ref
    default = json.dumps(question.default)
    if question.multiselect:  # the form sends a shown list, even an empty one
        return f"({ref} if {_expression(_when(question), questions)} else {default})"
    if question.type == "str":  # an empty text is no answer (the context module's rule)
        return f"({ref} if {ref} else {default})"
    return f"({ref} if {ref} is defined else {default})"


def _expression(node: nodes.Node, questions: dict[str, Question]) -> str:
    if isinstance(node, nodes.Name):
        q = questions.get(node.name)
        if q is None or q.computed or q.templated_default:
            raise ExportError(
                f"a file-name condition may test plain answers only, not {node.name!r}"
            )
        return _answer(q, questions)
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


# -------------------------------------------------------------------- folder names
def folder_label(conditions: tuple[str, ...], questions: dict[str, Question]) -> str:
    """A short name for the folder of the files that need `conditions`.

    It says the values the conditions test (`cluster`, `not-elasticache`, `python`,
    `no-secret-store`), leaving out a condition the others already imply once an
    answer the form does not show takes copier's default (checked over every
    combination of the answers involved, when they are few).
    """
    kept = list(conditions)
    for term in list(conditions):
        others = [t for t in kept if t != term]
        if others and _implied(term, others, questions):
            kept = others
        elif others and isinstance(_condition(term), nodes.Or):
            # `A or B` where the others rule out A reads as B (a name only: the step's
            # `if:` keeps the whole condition)
            alternatives = re.split(r"\s+or\s+", term)
            try:
                left = [a for a in alternatives if not _implied(f"not ({a})", others, questions)]
            except jinja2.TemplateSyntaxError:  # an `or` inside parentheses: keep it whole
                continue
            if left and len(left) < len(alternatives):
                kept[kept.index(term)] = " or ".join(left)
    words = "-".join(_label(_condition(c)) for c in kept)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:80] or "conditional"


def _label(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Const):
        return str(node.value)
    if isinstance(node, nodes.Not):
        inner = node.node
        return f"no-{inner.name}" if isinstance(inner, nodes.Name) else f"not-{_label(inner)}"
    if isinstance(node, nodes.And):
        return f"{_label(node.left)}-{_label(node.right)}"
    if isinstance(node, nodes.Or):
        return f"{_label(node.left)}-or-{_label(node.right)}"
    if isinstance(node, nodes.Compare) and len(node.ops) == 1:
        op, right = node.ops[0].op, node.ops[0].expr
        value = node.expr if isinstance(node.expr, nodes.Const) else right
        if op == "ne":
            return f"not-{_label(value)}"
        if op == "notin":
            return f"no-{_label(value)}"
        return _label(value)
    return "if"


def _implied(term: str, others: list[str], questions: dict[str, Question]) -> bool:
    """True when `term` holds wherever all of `others` hold (copier's defaults applied)."""
    names: list[str] = []

    def collect(node: nodes.Node) -> None:
        for name in node.find_all(nodes.Name):
            q = questions.get(name.name)
            if q is None or q.computed or name.name in names:
                continue
            names.append(name.name)
            if q.when:
                collect(_when(q))

    consts: list = []
    for text in [term, *others]:
        node = _condition(text)
        collect(node)
        consts += [c.value for c in node.find_all(nodes.Const)]
    ordered = [q for q in questions.values() if q.name in names]
    domains = [_domain(q, consts) for q in ordered]
    if None in domains or math.prod(map(len, domains)) > 4096:
        return False
    check = _STOCK.compile_expression(term)
    given = [_STOCK.compile_expression(t) for t in others]
    whens = {q.name: _STOCK.from_string(q.when) for q in ordered if q.when}
    for combination in itertools.product(*domains):
        values: dict = {}
        for q, value in zip(ordered, combination, strict=True):
            shown = q.name not in whens or whens[q.name].render(**values).strip().lower() in (
                "true",
                "yes",
                "y",
                "on",
                "1",
            )
            values[q.name] = value if shown else q.default
        if all(g(**values) for g in given) and not check(**values):
            return False
    return True


def _domain(q: Question, consts: list) -> list | None:
    if q.templated_default:
        return None
    if q.type == "bool":
        return [False, True]
    if q.multiselect:
        return [
            list(c) for r in range(len(q.choices) + 1) for c in itertools.combinations(q.choices, r)
        ]
    if q.choices:
        return list(q.choices)
    if q.type == "str":
        return list(
            dict.fromkeys([q.default, "", "x-other", *(c for c in consts if isinstance(c, str))])
        )
    return None
