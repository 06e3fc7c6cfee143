"""Every path through the interactive interview ends in a repository.

copier validates a question's default before it shows the question
(`Question.get_default()` calls `validate_answer()`), so a default that is invalid for
the earlier answers ends the interview with a traceback, and the person never sees the
question that would fix it. These walks run copier's own interview loop
(`Worker._ask`), with a scripted person in place of the terminal: at each prompt the
person picks one of the choices, or one of a few edge answers of the field that
copier's validator for that prompt accepts (the default among them). Any exception is
a path on which a person would have lost every answer.

The real terminal is tested in tests/test_interview_terminal.py; this one covers the
paths, cheaply (no rendering, no terminal). copier compiles every templated default,
`when`, help and validator anew each time it renders one (Jinja's `from_string` has no
cache): 60,000 compiles of the same few hundred strings for 40 walks, 80% of the time.
The walks keep each compiled template for its source string, which renders the same.
"""

from __future__ import annotations

import random

import copier._main as copier_main
import pytest
from copier._main import Worker

from tests.fixtures.generation import TEMPLATE_TAG

OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
# Edge answers a person may type: limits of each rule, and values that move a later default.
EDGES: dict[str, list] = {
    "service_name": ["a", "x" * 30, "shopping-cart"],
    "app_namespace": ["b", "z" * 63],
    "secret_store": ["", "platform-store", "a.b"],
    "oidc_provider_arn": ["", OIDC],
    "aws_region": ["us-gov-west-1", "eu-west-1"],
    "vpc_id": ["vpc-0123abcd"],
    "subnet_ids": ["subnet-0123abcd,subnet-0123abce"],
    "app_security_group_id": ["sg-0123abcd"],
    "monitoring_namespace": ["m", "z" * 63],
    "alarm_topic_arn": ["", "arn:aws:sns:us-east-1:123456789012:oncall"],
    "description": ["d"],
    "system": ["s.y_s", "A"],
    "app_deployment": ["web.v2", "1app", "a" * 253, "app"],
    "app_container": ["c"],
    "cluster_domain": ["a.b"],
    "master_set": ["M"],
    "redis_replicas": [3, 5, 9],
    "sentinel_quorum": [2, 3, 5, 9],
    "min_replicas_to_write": [1, 2, 8],
    "min_replicas_max_lag": [1, 60],
    "down_after_ms": [1000, 179999, 180000, 600000],
    "failover_timeout_ms": [600001, 3600000],
    "cluster_masters": [3, 12],
    "cluster_replicas": [1, 3],
    "cluster_node_timeout_ms": [1000, 600000],
    "redis_image": ["registry.example.com/m/redis"],
    "redis_version": ["6.2.0", "7.0.0", "7.2.0", "9.9.9-alpine"],
    "redis_image_digest": ["", "sha256:" + "a" * 64],
    "redis_port": [1024, 6379, 16379, 26379, 55535, 55536, 60000, 65535],
    "sentinel_port": [1024, 26380, 65535],
    "cluster_bus_port": [1024, 65535, 16380],
    "storage_size": ["1Mi", "1Ti"],
    "storage_class": ["", "gp3"],
    "redis_cpu_request": ["1m", "64", "250m"],
    "redis_cpu_limit": ["", "1m", "128"],
    "redis_memory_request": ["1Mi", "600Mi", "1Gi", "3Gi", "9Gi", "1Ti"],
    "redis_memory_limit": ["1Mi", "2Ti"],
    "secret_name": ["a"],
    "secret_key": ["k"],
    "kms_key_id": ["", "alias/x"],
    "secret_recovery_window_days": [0, 7, 30],
    "node_type": ["cache.t4g.micro"],
    "cache_engine_version": ["7.0", "7.2", "8.1"],
    "cache_replicas": [1, 5],
    "snapshot_retention_days": [0, 35],
}
HOOK_QUESTIONS = {"create_secret", "check_sentinel", "check_elasticache"}


class NoValidAnswer(AssertionError):
    """The scripted person found no answer the prompt accepts: the path is a dead end."""


def scripted_person(rng: random.Random):
    """A stand-in for questionary's unsafe_prompt that answers like a person would."""

    def prompt(questions: list[dict], answers: dict | None = None, **_) -> dict:
        q = questions[0]
        name = q["name"]
        if not q["when"](None):  # questionary returns the given answers for a skipped one
            return dict(answers or {})
        if q["type"] == "select":
            return {name: rng.choice(q["choices"]).value}
        if q["type"] == "checkbox":
            values = [c.value for c in q["choices"]]
            return {name: rng.sample(values, rng.randint(0, len(values)))}
        if q["type"] == "confirm":
            return {name: name == "customise" and rng.random() < 0.8}
        typed = [str(v) for v in EDGES.get(name, [])]
        rng.shuffle(typed)
        if "default" in q:
            typed.insert(rng.randint(0, len(typed)), str(q["default"]))
        for answer in typed:
            if q["validate"](answer) is True:
                return {name: q["filter"](answer)}
        refusals = {answer: q["validate"](answer) for answer in typed}
        raise NoValidAnswer(f"{name}: no typed answer is accepted: {refusals}")

    return prompt


def compile_once(env) -> None:
    """Keep the compiled template of each source string (rendering is unchanged)."""
    compile_source, compiled = env.from_string, {}

    def from_string(source, *args, **kwargs):
        if args or kwargs or not isinstance(source, str):
            return compile_source(source, *args, **kwargs)
        if source not in compiled:
            compiled[source] = compile_source(source)
        return compiled[source]

    env.from_string = from_string


@pytest.mark.parametrize("seed", range(2))
def test_every_path_through_the_interview_reaches_the_end(
    template_src, tmp_path, monkeypatch, seed
):
    """40 walks per seed, each choice and edge answer drawn at random (reproducible)."""
    rng = random.Random(seed)
    monkeypatch.setattr(copier_main, "unsafe_prompt", scripted_person(rng))
    worker = Worker(
        src_path=str(template_src),
        dst_path=tmp_path / "never-written",
        vcs_ref=TEMPLATE_TAG,
        unsafe=True,
        quiet=True,
    )
    compile_once(worker.jinja_env)
    topologies = set()
    for walk in range(40):
        try:
            worker._ask()
        except Exception as error:  # noqa: BLE001 - any exception is a lost interview
            asked = dict(worker.answers.user)
            pytest.fail(f"walk {seed}/{walk} ended in {error!r} after answers {asked}")
        topologies.add(worker.answers.user["topology"])
    assert topologies == {"sentinel", "cluster", "elasticache"}
