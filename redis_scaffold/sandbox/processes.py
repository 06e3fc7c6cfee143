"""Supervise the sandbox's redis and sentinel processes: start, signal, restart, stop.

Each process is the generated start script (`sh start-redis.sh`, which `exec`s the
server), in its own session (Ctrl-C reaches the Python process, which stops them in
order), with the Linux parent-death signal set so a Python process that dies without
cleaning up takes its servers with it. Everything still running is stopped when the
supervisor is stopped or garbage-collected.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import weakref

from redis_scaffold.sandbox.nodes import TopologyError
from redis_scaffold.sandbox.staging import Launch

STOP_GRACE_S = 5.0  # after SIGTERM; then SIGKILL
RETERM_S = 0.5  # SIGTERM again while a process is still running
ENDING_SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)

Key = tuple[int, str]  # (node index, role)


class ProcessError(TopologyError):
    """A process is not running when it should be."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if the Python process dies without cleaning up
    (kept across the start script's `exec`)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_all(procs: dict[Key, subprocess.Popen], grace_s: float = STOP_GRACE_S) -> None:
    """Stop every process in procs (also the finalizer): CONT + TERM, then KILL.

    TERM is repeated every RETERM_S: Redis 7 refuses a shutdown while it writes its
    initial AOF (a replica just after a full resync: "Writing initial AOF, can't exit")
    and does not try again by itself, so a single TERM can leave it running until KILL."""
    live = {k: p for k, p in procs.items() if p.poll() is None}
    for p in live.values():
        _send(p, signal.SIGCONT)
    deadline = time.monotonic() + grace_s
    while live and time.monotonic() < deadline:
        for p in live.values():
            _send(p, signal.SIGTERM)
        resend_at = min(deadline, time.monotonic() + RETERM_S)
        while live and time.monotonic() < resend_at:
            live = {k: p for k, p in live.items() if p.poll() is None}
            time.sleep(0.02)
    for (index, role), p in live.items():
        print(
            f"{role} of node {index} did not stop within {grace_s:g} s of SIGTERM: killed",
            file=sys.stderr,
            flush=True,
        )
        p.kill()
        p.wait()
    procs.clear()


def _send(proc: subprocess.Popen, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except ProcessLookupError:
        pass


class Supervisor:
    """The processes of one topology, by (node index, role)."""

    def __init__(self) -> None:
        self._procs: dict[Key, subprocess.Popen] = {}
        self._launches: dict[Key, Launch] = {}
        self._finalizer = weakref.finalize(self, stop_all, self._procs)

    def spawn(self, key: Key, launch: Launch) -> subprocess.Popen:
        """Run the start script of `launch` as `key`, its output appended to its log."""
        with open(launch.log, "ab") as out:
            proc = subprocess.Popen(
                ["sh", str(launch.script)],
                env=launch.env,
                cwd=launch.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._procs[key] = proc
        self._launches[key] = launch
        return proc

    def launch_of(self, key: Key) -> Launch | None:
        """How `key` was last started: its env is what a probe or a hook run in its
        container sees (fixed when the container started)."""
        return self._launches.get(key)

    def get(self, key: Key) -> subprocess.Popen | None:
        return self._procs.get(key)

    def running(self, key: Key) -> bool:
        proc = self._procs.get(key)
        return proc is not None and proc.poll() is None

    def signal(self, key: Key, sig: int) -> None:
        """Send `sig`; wait for the process if the signal ends it (KILL after 30 s)."""
        proc = self._procs.get(key)
        if proc is None or proc.poll() is not None:
            raise ProcessError(f"{key[1]} of node {key[0]} is not running")
        proc.send_signal(sig)
        if sig in ENDING_SIGNALS:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def terminate(self, key: Key) -> None:
        """Stop `key` if it runs (resumed first, should it be stopped with SIGSTOP)."""
        if self.running(key):
            stop_all({key: self._procs[key]})

    def exited(self) -> list[tuple[Key, int]]:
        """(key, exit code) of every process that has ended."""
        return [(k, p.returncode) for k, p in self._procs.items() if p.poll() is not None]

    def stop(self) -> None:
        stop_all(self._procs)
