"""Translate copier questions into the JSON Schema (draft 7) of a Backstage form.

A copier validator is a Jinja expression that renders an error message, or nothing.
This module reads its syntax tree and keeps what a form can check on one field:

* calls of the rule macros of includes/rules.jinja and includes/patterns.jinja (rule_schemas below; the named patterns come from the PATTERNS table) with constant
  arguments become `pattern`, `maxLength`, `minimum`, `maximum`;
* `'' if CONDITION else 'message'` (and `'message' if CONDITION else RULE`) become the
  schema of CONDITION, built from `and`/`or`/`not`, comparisons with constants,
  `is odd`/`is even`, and `'text' in value | lower`.

Anything else, chiefly rules that compare two answers (the quorum against the pod
count), cannot be said in a static form; it stays copier's job. The portal still
enforces it: the cookiecutter rendition runs copier's own validators before it writes
a file. The translation only ever loosens: a value copier accepts is never refused.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
from jinja2 import nodes

PATTERNS_FILE = "includes/patterns.jinja"

UNKNOWN = object()  # an argument that is not a constant (it names another answer)
JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "path": "string",
}


def _pattern(pattern: str, allow_empty: Any = False) -> dict:
    return {"pattern": f"^$|(?:{pattern})" if allow_empty is True else pattern}


def _known(**bounds: Any) -> dict:
    return {k: v for k, v in bounds.items() if v is not UNKNOWN}


def load_patterns(root: Path) -> dict[str, dict]:
    """The PATTERNS table of includes/patterns.jinja: rule name -> pattern and examples.

    Read from the template's syntax tree, so the table is written once, in the file the
    copier validators use.
    """
    tree = jinja2.Environment().parse((root / PATTERNS_FILE).read_text())
    for node in tree.find_all(nodes.Assign):
        if isinstance(node.target, nodes.Name) and node.target.name == "PATTERNS":
            return node.node.as_const()
    raise LookupError(f"{PATTERNS_FILE} defines no PATTERNS table")


def rule_schemas(patterns: dict[str, dict]) -> dict:
    """The rule macros of includes/rules.jinja and includes/patterns.jinja: name ->
    schema of the values it accepts, given the macro's other arguments."""
    p = {name: rule["pattern"] for name, rule in patterns.items()}
    return {
        "dns_label": lambda max=63: {**_pattern(p["dns_label"]), **_known(maxLength=max)},
        "dns_subdomain": lambda max=253, allow_empty=False: {
            **_pattern(p["dns_subdomain"], allow_empty),
            **_known(maxLength=max),
        },
        "matches": lambda pattern, rule="", allow_empty=False: (
            {} if pattern is UNKNOWN else _pattern(pattern, allow_empty)
        ),
        "one_line": lambda max: {**_pattern(p["one_line"]), **_known(maxLength=max)},
        "int_between": lambda low, high, rule="": _known(minimum=low, maximum=high),
        "memory": lambda allow_empty=False: _pattern(p["memory"], allow_empty),
        "cpu": lambda allow_empty=False: _pattern(p["cpu"], allow_empty),
    }


class _Translator:
    """Schema of the values one validator accepts; None where it cannot be said."""

    def __init__(self, var: str, rules: dict) -> None:
        self.var = var
        self.rules = rules

    def _is_var(self, node: nodes.Node) -> bool:
        return isinstance(node, nodes.Name) and node.name == self.var

    @staticmethod
    def _all(*schemas: dict | None) -> dict | None:
        known = [s for s in schemas if s is not None]
        merged: dict = {}
        rest = []
        for schema in known:
            if schema is False:
                return False
            if set(schema) & set(merged):
                rest.append(schema)
            else:
                merged.update(schema)
        if rest:
            merged = {"allOf": [merged, *rest]} if merged else {"allOf": rest}
        return merged if known else None

    @staticmethod
    def _any(*schemas: dict | None) -> dict | None:
        if any(s is None for s in schemas):
            return None
        options = [s for s in schemas if s is not False]
        if not options:
            return False
        if any(s == {} for s in options):
            return {}
        return options[0] if len(options) == 1 else {"anyOf": options}

    @staticmethod
    def _not(schema: dict | None) -> dict | None:
        if schema is None:
            return None
        if schema is False:
            return {}
        return False if schema == {} else {"not": schema}

    def message(self, node: nodes.Node | None) -> dict | None:
        """Values for which the message expression renders empty."""
        if node is None:  # `'msg' if cond` without else renders nothing
            return {}
        if isinstance(node, nodes.Const):
            return {} if node.value in ("", None) else False
        if isinstance(node, (nodes.Concat, nodes.TemplateData)):
            return False
        if isinstance(node, nodes.Or):  # an error from either side is an error
            return self._all(self.message(node.left), self.message(node.right))
        if isinstance(node, nodes.CondExpr):
            test = self.condition(node.test)
            return self._any(
                self._all(test, self.message(node.expr1)),
                self._all(self._not(test), self.message(node.expr2)),
            )
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            return self._rule(node)
        return None

    def _rule(self, call: nodes.Call) -> dict | None:
        rule = self.rules.get(call.node.name)
        if rule is None or not call.args or not self._is_var(call.args[0]):
            return None
        const = lambda n: n.value if isinstance(n, nodes.Const) else UNKNOWN  # noqa: E731
        try:
            return rule(*map(const, call.args[1:]), **{k.key: const(k.value) for k in call.kwargs})
        except TypeError:
            return None

    def condition(self, node: nodes.Node) -> dict | None:
        """Values for which the condition is true."""
        if isinstance(node, nodes.And):
            return self._all(self.condition(node.left), self.condition(node.right))
        if isinstance(node, nodes.Or):
            return self._any(self.condition(node.left), self.condition(node.right))
        if isinstance(node, nodes.Not):
            return self._not(self.condition(node.node))
        if isinstance(node, nodes.Test) and self._is_var(node.node):
            return {
                "odd": {"not": {"multipleOf": 2}},
                "even": {"multipleOf": 2},
                "number": {},
                "string": {},
                "integer": {},
            }.get(node.name)
        if isinstance(node, nodes.Compare):
            return self._compare(node)
        return None

    def _compare(self, node: nodes.Compare) -> dict | None:
        chain = [node.expr, *(op.expr for op in node.ops)]
        parts = [
            self._pair(left, op.op, right)
            for left, op, right in zip(chain, node.ops, chain[1:], strict=False)
        ]
        return None if None in parts else self._all(*parts)

    def _pair(self, left: nodes.Node, op: str, right: nodes.Node) -> dict | None:
        flipped = {"lt": "gt", "lteq": "gteq", "gt": "lt", "gteq": "lteq", "eq": "eq", "ne": "ne"}
        if self._is_var(right) and isinstance(left, nodes.Const) and op in flipped:
            left, op, right = right, flipped[op], left
        if self._is_var(left) and isinstance(right, nodes.Const):
            value = right.value
            return {
                "lt": {"exclusiveMaximum": value},
                "lteq": {"maximum": value},
                "gt": {"exclusiveMinimum": value},
                "gteq": {"minimum": value},
                "eq": {"const": value},
                "ne": {"not": {"const": value}},
            }.get(op)
        lowered = (
            isinstance(right, nodes.Filter) and right.name == "lower" and self._is_var(right.node)
        )
        if op == "in" and lowered and isinstance(left, nodes.Const) and isinstance(left.value, str):
            return {
                "pattern": "".join(
                    f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in left.value
                )
            }
        return None


def validator_schema(var: str, validator: str, rules: dict) -> dict | None:
    """JSON Schema of the values `validator` accepts, or None if none can be said."""
    tree = jinja2.Environment().parse(validator)
    outputs = [n for n in tree.body if isinstance(n, nodes.Output)]
    exprs = [
        e
        for o in outputs
        for e in o.nodes
        if not (isinstance(e, nodes.TemplateData) and not e.data.strip())
    ]
    if len(exprs) != 1:
        return None
    return _Translator(var, rules).message(exprs[0])


def _as_enum(schema: dict) -> dict:
    """An integer rule with `not`/`anyOf` reads better in a form as its short list."""
    if schema.get("type") != "integer" or not ({"not", "anyOf", "allOf"} & set(schema)):
        return schema
    numbers = [v for v in _numbers(schema) if isinstance(v, int)]
    if not numbers or max(numbers) - min(numbers) > 100:
        return schema
    check = jsonschema.Draft7Validator(schema)
    values = [n for n in range(min(numbers), max(numbers) + 1) if check.is_valid(n)]
    keep = {k: v for k, v in schema.items() if k in {"type", "title", "description", "default"}}
    return {**keep, "enum": values}


def _numbers(schema: Any) -> list:
    if isinstance(schema, dict):
        found = [
            v
            for k, v in schema.items()
            if k in {"const", "minimum", "maximum"} and not isinstance(v, bool)
        ]
        return found + list(itertools.chain.from_iterable(map(_numbers, schema.values())))
    if isinstance(schema, list):
        return list(itertools.chain.from_iterable(map(_numbers, schema)))
    return []


def question_schema(name: str, question: dict, rules: dict) -> dict:
    """The form field of one copier question (its templated default left out)."""
    kind = question["type"]
    item = {"type": JSON_TYPES[kind]} if kind in JSON_TYPES else {}
    schema: dict = {"title": name.replace("_", " ").capitalize()}
    if question.get("help"):
        schema["description"] = " ".join(str(question["help"]).split())
    choices = question.get("choices")
    if choices:
        item["enum"] = list(choices)
    if question.get("multiselect"):
        schema.update(type="array", items=item, uniqueItems=True)
    else:
        schema.update(item)
    default = question.get("default")
    if isinstance(default, str) and "UNSET" in default:
        pass  # copier's "no default" where the rule needs a typed answer: the form asks it
    elif isinstance(default, str) and ("{{" in default or "{%" in default):
        schema["description"] = (
            schema.get("description", "") + f" Leave empty for the default: {default}"
        ).strip()
    elif "default" in question:
        schema["default"] = default
    if question.get("validator") and not question.get("multiselect"):
        accepted = validator_schema(name, question["validator"], rules)
        if accepted and set(accepted) & set(schema):
            schema.setdefault("allOf", []).append(accepted)
        elif accepted:
            schema.update(accepted)
    return _as_enum(schema)
