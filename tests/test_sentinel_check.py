"""`redis-scaffold sentinel check` against the generated repo's own Sentinel, run for real.

Each test gets a ready topology (3 redis + 3 sentinels on loopback, started from the
generated repo's config, fast timing), breaks what its story needs, and runs the check.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from redis_scaffold.errors import ScaffoldError
from redis_scaffold.sandbox.sentinel import LocalSentinel
from redis_scaffold.service import sentinel
from redis_scaffold.service.sentinel_cmd import SentinelSettings
from redis_scaffold.service.sentinel_cmd import run as run_check

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(topology_repo: Path) -> Path:
    return topology_repo


@pytest.fixture
def healthy(topology: LocalSentinel) -> LocalSentinel:
    """A fresh, ready topology of its own for each test (tests/fixtures/topology.py)."""
    return topology


def sentinel_args(topo: LocalSentinel) -> list[str]:
    return [f"{host}:{port}" for host, port in topo.sentinels]


def check_cli(repo: Path, *args: str, password: str | None, timeout: float = 60):
    """The real command, as a user runs it; the password only in the environment."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_PASSWORD"}
    if password is not None:
        env["REDIS_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "sentinel", "check", str(repo), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_in_process(
    repo, topo, capsys, *, password=None, sentinels=None, strict=True, timeout=5.0
):
    """(exit code, stdout + stderr) of the check, errors shown as the command shows them."""
    try:
        code = run_check(
            SentinelSettings(
                project=repo,
                sentinels=tuple(sentinels or sentinel_args(topo)),
                timeout=timeout,
                strict=strict,
                environ={"REDIS_PASSWORD": password or topo.password},
            )
        )
    except ScaffoldError as error:
        print(f"error: {error.describe()}", file=sys.stderr)
        code = error.exit_code
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert topo.password not in out, "the password appears in the check's output"
    return code, out


def flagged_down(topo: LocalSentinel, watcher, watched) -> bool:
    """True once `watcher`'s sentinel marks `watched`'s sentinel subjectively down."""
    with topo.client(watcher, "sentinel") as s:
        entries = s.sentinel_sentinels(topo.master_set)
    return any(e["ip"] == watched.host and e["is_sdown"] for e in entries)


def check_keys_left(topo: LocalSentinel) -> list[str]:
    host, _ = topo.master_address()
    with topo.client(topo.node_at(host)) as r:
        return list(r.scan_iter(match=f"{sentinel.KEY_PREFIX}*"))


def test_healthy_topology_passes_and_leaves_no_key(repo, healthy, capsys):
    result = check_cli(
        repo,
        *[a for s in sentinel_args(healthy) for a in ("--sentinel", s)],
        "--strict",
        password=healthy.password,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    host, port = healthy.master_address()
    master = f"{host}:{port}"
    assert f"master {master}" in result.stdout
    for step in ("quorum", "members", "round trip"):
        assert step in result.stdout
    assert "3 sentinels (3 up), 2 replicas (2 up)" in result.stdout
    assert healthy.password not in result.stdout + result.stderr, (
        "the password appears in the output"
    )
    assert check_keys_left(healthy) == []

    # The same deployment, asked with a wrong password: refused, and said so.
    code, out = check_in_process(repo, healthy, capsys, password="not-the-password")
    assert code == sentinel.AuthFailed.exit_code
    assert "refused the password" in out
    assert "not-the-password" not in out


def masters_named(topo: LocalSentinel) -> set[tuple[str, int]]:
    named = set()
    for node in topo.nodes:
        with topo.client(node, "sentinel") as s:
            host, port = s.sentinel_get_master_addr_by_name(topo.master_set)
        named.add((host, int(port)))
    return named


def test_master_killed_the_check_follows_the_failover(repo, healthy, capsys):
    old = healthy.master_address()
    healthy.kill(healthy.node_at(old[0]))
    healthy.wait_until(
        lambda: len(named := masters_named(healthy)) == 1 and old not in named,
        30,
        "every sentinel to name the new master",
    )
    new = healthy.master_address()

    code, out = check_in_process(repo, healthy, capsys)

    assert code == 0, out
    assert f"master {new[0]}:{new[1]}" in out
    assert f"names master {old[0]}:{old[1]}" not in out


def test_losing_sentinels_one_then_two(repo, healthy, capsys):
    survivor, first, second = healthy.nodes
    healthy.kill(first, role="sentinel")
    healthy.wait_until(lambda: flagged_down(healthy, survivor, first), 30, "sentinel marked down")

    code, out = check_in_process(repo, healthy, capsys)
    assert code == 0, out
    assert "OK 2 usable Sentinels" in out
    assert "warning: 1 of 3 sentinels are down" in out

    healthy.kill(second, role="sentinel")
    healthy.wait_until(
        lambda: flagged_down(healthy, survivor, second), 30, "second sentinel marked down"
    )

    code, out = check_in_process(repo, healthy, capsys)
    assert code == sentinel.NoQuorum.exit_code
    assert "error: no quorum: " in out and "NOQUORUM" in out


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def test_nothing_listening_ends_unreachable_naming_the_addresses(repo):
    # One address refuses at once; the other accepts connections and never answers,
    # so only the time limit can end the check.
    refused = f"127.0.0.1:{free_port('127.0.0.1')}"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(sentinel.Unreachable) as caught:
            sentinel.check(
                [sentinel.parse_address(a) for a in (mute, refused)],
                "shopping-cart-redis",
                "irrelevant",
                pods=3,
                timeout=1.0,
            )
    assert caught.value.tried == [mute, refused]
    assert mute in str(caught.value) and refused in str(caught.value)

    # The command: a warning and exit 0 at generation time, a failure with --strict.
    lenient = check_cli(repo, "--sentinel", refused, "--timeout", "1", password="irrelevant")
    assert lenient.returncode == 0
    assert lenient.stderr.startswith("warning: ") and refused in lenient.stderr
    strict = check_cli(
        repo, "--sentinel", refused, "--timeout", "1", "--strict", password="irrelevant"
    )
    assert strict.returncode == sentinel.Unreachable.exit_code
    # Errors go to stderr, one paragraph after the command's name, never a traceback.
    assert strict.stderr.startswith("redis-scaffold sentinel check: unreachable: ")
    assert refused in strict.stderr and "Traceback" not in strict.stderr
