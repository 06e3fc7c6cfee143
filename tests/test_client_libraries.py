"""The client libraries' own rule for choosing the master, the same in both languages.

Story: three sentinels answer SENTINEL MASTER during a failover or a partition; the
writer must follow the master the majority elected (the newest config epoch), never a
master a majority reports down, and ignore a sentinel that has not heard of the failover
yet. redis_service_client.choose_master (clients/python) and chooseMaster
(clients/node, under real node with the library as tests/node installs it) get the same
answers and must agree. (The libraries against real servers, on every end of their
declared ranges: tests/test_clients_failover.py.)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from redis.sentinel import MasterNotFoundError
from redis_service_client import choose_master

NODE_MODULES = Path(__file__).parent / "node" / "node_modules"


def answer(ip: str, epoch: int, flags: str = "master") -> dict:
    return {"ip": ip, "port": "6379", "config-epoch": str(epoch), "flags": flags}


CASES = {
    # name: (answers, voters, expected master or None)
    "all agree": ([answer("10.0.0.1", 1)] * 3, 3, "10.0.0.1"),
    "the newest epoch wins over a cut-off sentinel": (
        [answer("10.0.0.1", 1), answer("10.0.0.2", 2), answer("10.0.0.2", 2)],
        3,
        "10.0.0.2",
    ),
    "one sentinel already names the new master": (
        [answer("10.0.0.1", 1), answer("10.0.0.1", 1), answer("10.0.0.2", 2)],
        3,
        "10.0.0.2",
    ),
    "a majority reports the master down": (
        [answer("10.0.0.1", 1, "master,s_down,o_down")] * 2 + [answer("10.0.0.1", 1)],
        3,
        None,
    ),
    "every answer is down": ([answer("10.0.0.1", 1, "master,s_down")] * 3, 3, None),
    "only the isolated master's own sentinel answers as new": (
        [answer("10.0.0.1", 2)] + [answer("10.0.0.2", 2)] * 2,
        3,
        "10.0.0.2",
    ),
}


def python_choice(answers: list[dict], voters: int) -> str | None:
    try:
        return choose_master(answers, voters)[0]
    except MasterNotFoundError:
        return None


@pytest.mark.parametrize("name", list(CASES))
def test_the_python_library_follows_the_majority(name):
    answers, voters, expected = CASES[name]
    assert python_choice(answers, voters) == expected


def test_the_node_library_chooses_as_the_python_one():
    if not (NODE_MODULES / "@example-org/redis-service-client").is_dir():
        pytest.fail(f"no client library in {NODE_MODULES}: run scripts/bootstrap.sh test")
    script = (
        "const { chooseMaster } = require('@example-org/redis-service-client');"
        "const cases = JSON.parse(process.argv[1]);"
        "const out = {};"
        "for (const [name, [answers, voters]] of Object.entries(cases)) {"
        "  const chosen = chooseMaster(answers, voters); out[name] = chosen && chosen.host; }"
        "console.log(JSON.stringify(out));"
    )
    result = subprocess.run(
        ["node", "-e", script, json.dumps(CASES)],
        cwd=NODE_MODULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-1000:]
    chosen = json.loads(result.stdout)
    assert chosen == {name: expected for name, (_, _, expected) in CASES.items()}
