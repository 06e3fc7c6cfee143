"""One table of rules, three places that enforce them, one verdict.

includes/patterns.jinja's PATTERNS table names each rule's pattern and its examples.
copier enforces a rule with a macro (with copier's regex filter, or in plain Jinja for
the rules the portal's cookiecutter rendition checks too), and the portal form with
the pattern as JSON Schema. Every one of them must accept the good examples and refuse
the bad ones.
"""

from __future__ import annotations

import jinja2
import jsonschema
import pytest
from jinja2_ansible_filters import AnsibleCoreFiltersExtension

from redis_scaffold.portal.schema import load_patterns, rule_schemas
from tests.fixtures.generation import REPO_ROOT

PATTERNS = load_patterns(REPO_ROOT)
# rule -> (macro file, call): how copier.yml's validators call each rule.
MACROS = {
    "dns_label": ("includes/patterns.jinja", "dns_label(value)"),
    "dns_subdomain": ("includes/patterns.jinja", "dns_subdomain(value)"),
    "memory": ("includes/rules.jinja", "memory(value)"),
    "cpu": ("includes/rules.jinja", "cpu(value)"),
    "one_line": ("includes/rules.jinja", "one_line(value, 200)"),
}


def copier_env() -> jinja2.Environment:
    """Jinja as copier configures it: sandboxed, with the Ansible filters."""
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(REPO_ROOT), extensions=[AnsibleCoreFiltersExtension]
    )


def verdicts(env: jinja2.Environment, rule: str) -> dict[str, bool]:
    path, call = MACROS[rule]
    name = call.split("(")[0]
    template = env.from_string(f"{{% from '{path}' import {name} %}}{{{{ {call} }}}}")
    examples = PATTERNS[rule]["good"] + PATTERNS[rule]["bad"]
    return {value: template.render(value=value).strip() == "" for value in examples}


def expected(rule: str) -> dict[str, bool]:
    return {
        **{v: True for v in PATTERNS[rule]["good"]},
        **{v: False for v in PATTERNS[rule]["bad"]},
    }


def test_every_rule_of_the_table_has_a_macro_and_a_form_schema():
    assert sorted(PATTERNS) == sorted(MACROS)
    assert set(PATTERNS) <= set(rule_schemas(PATTERNS))


@pytest.mark.parametrize("rule", sorted(PATTERNS))
def test_copier_and_the_form_agree_with_the_table(rule):
    assert verdicts(copier_env(), rule) == expected(rule)
    form = jsonschema.Draft7Validator({"type": "string", "pattern": PATTERNS[rule]["pattern"]})
    assert {v: form.is_valid(v) for v in expected(rule)} == expected(rule)


@pytest.mark.parametrize("rule", ["memory", "cpu", "one_line"])
def test_the_rules_the_portal_rendition_checks_need_only_plain_jinja(rule):
    """What stock cookiecutter (a plain Environment) can evaluate, it evaluates alike."""
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO_ROOT))
    assert verdicts(plain, rule) == expected(rule)
