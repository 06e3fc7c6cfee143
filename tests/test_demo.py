"""`redis-scaffold demo`, the README's first command, run as a user runs it.

It must finish successfully, and whether it finishes or is interrupted, leave no
redis, sentinel or emulator behind. `demo --tls` (every port TLS only, the default
tls_auth_clients `optional`) is the run that a Ctrl-C interrupts, after its check and
its client have worked over TLS.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redis_scaffold.sandbox.demo import PAUSE_ENV

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]


def demo(
    workdir: Path, pause_at: str | None = None, args: tuple[str, ...] = (), **popen
) -> subprocess.Popen:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "REDIS_PASSWORD"
    }
    env.pop(PAUSE_ENV, None)
    if pause_at:
        env[PAUSE_ENV] = pause_at
    return subprocess.Popen(
        [sys.executable, "-m", "redis_scaffold", "demo", "--workdir", str(workdir), *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
        **popen,
    )


def ctrl_c_as_in_a_terminal() -> None:  # runs in the child, before exec
    """Ctrl-C stops the demo as it does in a terminal, even when this test runs in a
    background job (whose shell made its children ignore SIGINT, and Python keeps that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_in(workdir: Path) -> list[str]:
    """Live processes whose working directory lies under workdir (redis runs in its data dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.is_relative_to(workdir):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append(f"{proc.name} {cmdline}")
    return found


def listening(url_in: str) -> list[str]:
    """The emulator and redis addresses the demo printed that still accept connections."""
    addresses = re.findall(r"http://(127\.[\d.]+):(\d+)", url_in)
    addresses += re.findall(r"\b(127\.\d+\.\d+\.\d+):(\d+)\b", url_in)
    alive = []
    for host, port in set(addresses):
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((host, int(port))) == 0:
                alive.append(f"{host}:{port}")
    return alive


def test_demo_runs_end_to_end_and_leaves_nothing_running(tmp_path):
    proc = demo(tmp_path)
    out, _ = proc.communicate(timeout=240)

    assert proc.returncode == 0, out
    for step in (
        "secret shopping-cart-redis: created",
        "ok: Sentinel, quorum, master",
        "reader(): GET",
        "-> b'3 items'",
        "Demo complete",
    ):
        assert step in out, out
    assert "password read back from the emulated secret (not shown)" in out
    assert (tmp_path / "shopping-cart" / ".copier-answers.yml").is_file()
    assert processes_in(tmp_path) == []
    assert listening(out) == []


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float) -> bool:
    """Bounded wait until `path` exists; False if the process ended or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


def test_the_tls_demo_checks_and_serves_then_ctrl_c_stops_everything(tmp_path):
    # The demo holds after its client step (the topology, the emulator and the secret
    # are all up by then) until it is signalled, so the Ctrl-C always lands mid-demo.
    proc = demo(tmp_path, pause_at="client", args=("--tls",), start_new_session=True)
    try:
        paused = wait_for_file(tmp_path / "paused-at-client", proc, timeout=200)
        running = processes_in(tmp_path)
        if paused:
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the foreground group
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert paused, out
    assert "pods on" in out and "paused after 'client'" in out
    for step in (
        "default answers, tls: yes",
        "TLS only on every port",
        "ok: Sentinel, quorum, master",  # sentinel check over TLS
        "-> b'3 items'",  # the generated client over TLS
    ):
        assert step in out, out
    assert running, "the topology should be running at this point"
    assert proc.returncode == 130, out
    assert "Interrupted: everything the demo started has been stopped." in out
    assert "Demo complete" not in out
    assert processes_in(tmp_path) == []
    assert listening(out) == []
