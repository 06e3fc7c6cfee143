"""The interview as a person meets it: `copier copy --trust` in an 80-column terminal.

Each story runs copier as users install it (the copier-alone venv that
scripts/route-venvs.sh builds; .venv's copier when that is absent) in a pseudo-terminal
through pexpect, and answers its prompts with keystrokes: Enter for a default, Ctrl-U
and typing for text, arrow keys for a choice, y/n for a yes/no question. Every story
ends with copier's exit status 0 and a repository equal, file for file, to
`copier copy --defaults --data-file` with the same answers.

A prompt is recognised by the first line of its help, matched in full: prompt_toolkit
clips a line at the terminal's width, so a first line longer than 80 columns never
appears whole and the story stops there. Every prompt a story meets is checked so;
together the stories meet every question of copier.yml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.fixtures.copier_cli import copier_as_installed
from tests.fixtures.generation import REPO_ROOT, TEMPLATE_TAG

pytestmark = pytest.mark.slow  # a real copier, a terminal, two generations per story

COLUMNS = 80
QMARK_COLUMNS = 3  # copier's "🎤 " before the first line: a wide emoji and a space
CONFIG = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
QUESTIONS = {
    name: spec
    for name, spec in CONFIG.items()
    if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
}
FIRST_LINES = {spec["help"].splitlines()[0]: name for name, spec in QUESTIONS.items()}
DOWN, UP = "\x1b[B", "\x1b[A"
# prompt_toolkit asks the terminal where its cursor is (CPR, ESC[6n) and waits about a
# second for the answer at the end of every prompt. A real terminal answers at once;
# pexpect's pty is no terminal emulator, so the Terminal below answers as one would,
# with the top-left corner: it keeps no screen to know the true position. A story that
# reads a refusal from the validation toolbar leaves the request unanswered instead:
# prompt_toolkit then draws without a known position (after its one-second wait) and
# writes the message whole, where a made-up position makes it redraw cell by cell.
CPR_REQUEST, CPR_ANSWER = "\x1b[6n", "\x1b[1;1R"
# A new prompt: bracketed paste on, then copier's qmark and the first line, up to its style's end.
PROMPT = re.compile(
    r"\x1b\[\?2004h(?:(?!\x1b\[\?2004l).)*?🎤(?:\x1b\[[0-9;]*m)* ([^\x1b\r\n]*)", re.S
)
OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
NETWORK = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "app_security_group_id": "sg-0123456789abcdef0",
}


def choices_of(name: str) -> list:
    choices = QUESTIONS[name]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


class Terminal:
    """One `copier copy` in a pseudo-terminal of 80 columns, answered key by key."""

    def __init__(self, template: Path, dst: Path, answer_cpr: bool = True):
        self.answer_cpr = answer_cpr
        env = {**os.environ, "TERM": "xterm", "COLUMNS": str(COLUMNS)}
        self.child = pexpect.spawn(
            str(copier_as_installed()),
            ["copy", "--trust", "--vcs-ref", TEMPLATE_TAG, str(template), str(dst)],
            dimensions=(40, COLUMNS),
            encoding="utf-8",
            timeout=60,
            env=env,
        )
        self.seen: list[str] = []
        self.refusals: list[str] = []

    def next_prompt(self) -> str | None:
        """The question now asked (its first help line seen whole), or None at the end.

        Each prompt is a new prompt_toolkit application, which turns bracketed paste on
        (ESC[?2004h) before drawing; the redraw of an answered prompt comes before it
        turns it off again, so it is never taken for a new prompt.
        """
        index = self.expect([PROMPT, pexpect.EOF])
        if index == 1:
            return None
        line = self.child.match.group(1)
        assert line in FIRST_LINES, f"a prompt's first line is cut or unknown: {line!r}"
        name = FIRST_LINES[line]
        self.seen.append(name)
        self.settle()
        return name

    def expect(self, patterns: list, exact: bool = False) -> int:
        """pexpect's expect, answering every cursor-position request on the way."""
        cpr = len(patterns)
        while True:
            if exact:
                index = self.child.expect_exact([*patterns, CPR_REQUEST])
            else:
                index = self.child.expect([*patterns, re.escape(CPR_REQUEST)])
            if index != cpr:
                return index
            if self.answer_cpr:
                self.child.send(CPR_ANSWER)

    def settle(self) -> None:
        """Let prompt_toolkit finish drawing the prompt before the first key."""
        while True:
            try:
                drawn = self.child.read_nonblocking(65536, timeout=0.3)
                if self.answer_cpr and CPR_REQUEST in drawn:
                    self.child.send(CPR_ANSWER)
            except pexpect.TIMEOUT:
                return

    def type_text(self, text: str) -> None:
        self.child.sendcontrol("u")  # clear the default shown in the input
        self.child.send(text)
        self.settle()
        self.child.send("\r")

    def refused(self, name: str, bad: str) -> None:
        """Type a bad answer: the prompt refuses it with the rule and stays."""
        self.type_text(bad)
        self.expect([f"Validation error for question '{name}'", "Invalid input"], exact=True)
        self.refusals.append(self.child.after)
        self.settle()

    def choose(self, name: str, value) -> None:
        options = choices_of(name)
        steps = options.index(value) - options.index(QUESTIONS[name]["default"])
        self.child.send((DOWN if steps > 0 else UP) * abs(steps))
        self.settle()
        self.child.send("\r")

    def tick(self, name: str, wanted: list) -> None:
        checked = set(QUESTIONS[name]["default"])
        for option in choices_of(name):
            if (option in checked) != (option in wanted):
                self.child.send(" ")
            self.child.send(DOWN)
        self.settle()
        self.child.send("\r")

    def answer(self, name: str, value) -> None:
        spec = QUESTIONS[name]
        if spec.get("multiselect"):
            self.tick(name, value)
        elif "choices" in spec:
            self.choose(name, value)
        elif spec["type"] == "bool":
            self.child.send("y" if value else "n")
        else:
            self.type_text(str(value))

    def finish(self) -> int:
        self.expect([pexpect.EOF])
        self.child.close()
        return self.child.exitstatus


def interview(template: Path, dst: Path, answers: dict, bad: dict | None = None) -> Terminal:
    """Answer copier's prompts: `answers` typed or chosen, Enter for the rest.

    `bad` maps a question to answers typed first, each of which must be refused there
    (the question then needs its good answer in `answers`: the bad one stays typed).
    """
    terminal = Terminal(template, dst, answer_cpr=not bad)
    while (name := terminal.next_prompt()) is not None:
        for wrong in (bad or {}).get(name, []):
            terminal.refused(name, wrong)
        if name in answers:
            terminal.answer(name, answers[name])
        else:
            terminal.child.send("\r")
    status = terminal.finish()
    assert status == 0, f"copier exited {status}; prompts seen: {terminal.seen}"
    return terminal


def copy_with_data(template: Path, dst: Path, answers: dict) -> None:
    data_file = dst.with_suffix(".answers.yml")
    data_file.write_text(yaml.safe_dump(answers))
    subprocess.run(
        [str(copier_as_installed()), "copy", "--trust", "--defaults", "--quiet"]
        + ["--vcs-ref", TEMPLATE_TAG, "--data-file", str(data_file), str(template), str(dst)],
        check=True,
        capture_output=True,
        timeout=300,
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def assert_same_repository(interviewed: Path, reference: Path) -> None:
    got, want = tree(interviewed), tree(reference)
    assert sorted(got) == sorted(want)
    assert [p for p in want if got[p] != want[p]] == []


def story(template_src: Path, tmp_path: Path, answers: dict, bad: dict | None = None) -> dict:
    """Interview, then compare with --data; returns the recorded answers."""
    terminal = interview(template_src, tmp_path / "interviewed", answers, bad)
    copy_with_data(template_src, tmp_path / "reference", answers)
    assert_same_repository(tmp_path / "interviewed", tmp_path / "reference")
    recorded = yaml.safe_load((tmp_path / "interviewed" / ".copier-answers.yml").read_text())
    asked = {k for k in recorded if not k.startswith("_")}
    # Every question asked was recognised by its whole first line at 80 columns.
    assert set(terminal.seen) == asked
    for name, value in answers.items():
        assert recorded[name] == value, name
    shutil.rmtree(tmp_path / "reference")
    return {"recorded": recorded, "terminal": terminal}


def test_every_first_line_of_help_fits_an_80_column_terminal():
    """Each prompt's first line says what is asked; the prompt's lines all fit."""
    assert len(FIRST_LINES) == len(QUESTIONS), "two questions share a first line of help"
    for name, spec in QUESTIONS.items():
        for line in spec["help"].splitlines():
            assert line.isascii() and QMARK_COLUMNS + len(line) <= COLUMNS, (name, line)


def test_the_defaults_by_enter_alone(template_src, tmp_path):
    result = story(template_src, tmp_path, {})
    assert result["recorded"]["service_name"] == "shopping-cart"


def test_elasticache_with_typed_network_ids_and_tuning(template_src, tmp_path):
    """The network ids have no default: the prompts start empty and take typed ids."""
    answers = {"topology": "elasticache", **NETWORK, "customise": True, "cache_replicas": 1}
    story(template_src, tmp_path, answers)


def test_external_secrets_with_an_empty_store_then_a_typed_oidc_arn(template_src, tmp_path):
    answers = {"secret_delivery": "external-secrets", "secret_store": "", "oidc_provider_arn": OIDC}
    story(template_src, tmp_path, answers, bad={"oidc_provider_arn": [""]})


def test_scheduled_rotation_with_a_typed_digest_and_the_stores_oidc_arn(template_src, tmp_path):
    """rotation yes: the image has no default and a tag alone is refused; the OIDC
    provider's prompt starts from the SecretStore's answer (Enter keeps it)."""
    answers = {
        "secret_delivery": "external-secrets",
        "secret_store": "",
        "oidc_provider_arn": OIDC,
        "rotation": True,
        "rotation_schedule": "15 4 * * 1",
        "rotation_image": "registry.example.com/redis-scaffold:v1@sha256:" + "d" * 64,
    }
    result = story(
        template_src,
        tmp_path,
        answers,
        bad={"rotation_image": ["registry.example.com/redis-scaffold:v1"]},
    )
    assert result["recorded"]["rotation_oidc_provider_arn"] == OIDC
    assert result["terminal"].refusals == ["Validation error for question 'rotation_image'"]


def test_cluster_customised_with_a_high_redis_port(template_src, tmp_path):
    """redis_port 60000: the bus port's default is 50000, and it is asked. With
    monitoring chosen, its namespace is asked (and typed). With TLS, the issuer is
    typed (a bare name is refused: KIND/NAME), and mutual TLS chosen in the tuning."""
    answers = {
        "topology": "cluster",
        "monitoring": "prometheus-operator",
        "monitoring_namespace": "observability",
        "tls": True,
        "tls_issuer": "ClusterIssuer/platform-ca",
        "customise": True,
        "redis_port": 60000,
        "tls_auth_clients": "yes",
    }
    result = story(template_src, tmp_path, answers, bad={"tls_issuer": ["platform-ca"]})
    assert result["recorded"]["cluster_bus_port"] == 50000
    assert result["recorded"]["tls_issuer"] == "ClusterIssuer/platform-ca"
    assert result["recorded"]["tls_auth_clients"] == "yes"
    assert result["terminal"].refusals == ["Validation error for question 'tls_issuer'"]


def test_customised_memory_request_above_the_size_preset(template_src, tmp_path):
    """size small (512Mi) and a 1Gi request: the limit's default follows the request."""
    answers = {"customise": True, "redis_memory_request": "1Gi", "client_languages": ["node"]}
    result = story(template_src, tmp_path, answers)
    assert result["recorded"]["redis_memory_limit"] == "1Gi"


def test_bad_typed_answers_are_refused_and_asked_again(template_src, tmp_path):
    """A refused answer shows the rule (or copier's "Invalid input" for a letter in a
    number field, whose help says the range) and the same prompt takes a good one.

    One bad answer per prompt: prompt_toolkit redraws only the cells that change, so a
    second message in the same place is never written whole to the terminal.
    """
    answers = {"service_name": "cart", "customise": True, "redis_replicas": 5, "sentinel_quorum": 3}
    bad = {"service_name": ["Cart_Service"], "redis_replicas": ["five"], "sentinel_quorum": ["1"]}
    result = story(template_src, tmp_path, answers, bad)
    assert result["terminal"].refusals == [
        "Validation error for question 'service_name'",
        "Invalid input",
        "Validation error for question 'sentinel_quorum'",
    ]
