"""Benchmark 4, validation: `redis-scaffold sentinel check` on healthy and unreachable topologies.

A repository is generated with the default answers and its topology run on loopback.
  healthy, in-process   redis_scaffold.service.sentinel.check() against the three sentinels: the check's
                        own work, which is network round trips (ask 3 sentinels, CKQUORUM,
                        SENTINELS + REPLICAS, ROLE, SET/GET/DEL); median of --runs x 10
  healthy, cli          the `redis-scaffold sentinel check REPO --sentinel ... --strict`
                        command, wall time (interpreter start and imports included)
  unreachable, refused  nothing listens at the sentinel addresses (the cluster is gone)
  unreachable, hung     the sentinels accept connections but never answer (SIGSTOP):
                        the worst case for a time limit
The unreachable cases run both in-process and through the CLI, with a 2 s timeout, and report the
time to fail beside it. The CLI's own start-up (interpreter, imports: `--help`) is
reported apart. Targets: healthy in-process <= 50 ms; unreachable: the check fails
within the timeout (+0.1 s for its last step's own overhead and scheduling), with the
CLI exiting 21 (unreachable).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import emit, log, median
from benchmarks.harness import generated_repo, running_topology
from redis_scaffold.sandbox.addresses import AddressBlock
from redis_scaffold.service import sentinel

HEALTHY_TARGET_MS = 50.0
UNREACHABLE_TIMEOUT_S = 2.0
SLACK_S = 0.1


def cli_prefix() -> list[str]:
    exe = Path(sys.executable).parent / "redis-scaffold"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "redis_scaffold"]


def cli_command(repo: Path, sentinels: list[tuple[str, int]], timeout: float) -> list[str]:
    cmd = cli_prefix() + ["sentinel", "check", str(repo), "--strict", "--timeout", f"{timeout:g}"]
    for host, port in sentinels:
        cmd += ["--sentinel", f"{host}:{port}"]
    return cmd


def run_cli(cmd: list[str], password: str) -> tuple[float, int, str]:
    env = {**os.environ, "REDIS_PASSWORD": password}
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    if password in proc.stdout or password in proc.stderr:
        raise AssertionError("the check printed the password")
    return (
        elapsed,
        proc.returncode,
        proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:],
    )


def measure(runs: int) -> dict:
    with generated_repo() as repo, running_topology(repo) as topo:
        pods = len(topo.nodes)
        # healthy, in-process (warm: imports done, first connection made)
        sentinel.check(topo.sentinels, topo.master_set, topo.password, pods)
        totals, steps = [], []
        for _ in range(runs * 10):
            start = time.perf_counter()
            report = sentinel.check(topo.sentinels, topo.master_set, topo.password, pods)
            totals.append(time.perf_counter() - start)
            steps.append(sum(s.seconds for s in report.steps))
        log("validation: healthy in-process done")
        cli = []
        for _ in range(runs):
            elapsed, code, last = run_cli(cli_command(repo, topo.sentinels, 5.0), topo.password)
            if code != 0:
                raise RuntimeError(f"healthy check failed ({code}): {last}")
            cli.append(elapsed)
        log("validation: healthy cli done")

        # unreachable, hung: the real sentinels, stopped
        hung = []
        for node in topo.nodes:
            topo.kill(node, signal.SIGSTOP, role="sentinel")
        hung_in_process = []
        try:
            for _ in range(runs):
                elapsed, code, last = run_cli(
                    cli_command(repo, topo.sentinels, UNREACHABLE_TIMEOUT_S), topo.password
                )
                hung.append((elapsed, code))
                start = time.perf_counter()
                try:
                    sentinel.check(
                        topo.sentinels, topo.master_set, topo.password, pods, UNREACHABLE_TIMEOUT_S
                    )
                    raise RuntimeError("the check passed against stopped sentinels")
                except sentinel.SentinelCheckError as exc:
                    hung_in_process.append((time.perf_counter() - start, exc.kind))
        finally:
            for node in topo.nodes:
                topo.kill(node, signal.SIGCONT, role="sentinel")
        log("validation: unreachable (hung) done")

        # unreachable, refused: a free loopback block, nothing listening
        nobody_block = AddressBlock.reserve(pods, [topo.sentinel_port])
        nobody = [(h, topo.sentinel_port) for h in nobody_block.hosts]
        refused, refused_in_process = [], []
        for _ in range(runs):
            elapsed, code, last = run_cli(
                cli_command(repo, nobody, UNREACHABLE_TIMEOUT_S), topo.password
            )
            refused.append((elapsed, code))
            start = time.perf_counter()
            try:
                sentinel.check(nobody, topo.master_set, topo.password, pods, UNREACHABLE_TIMEOUT_S)
                raise RuntimeError("the check passed with no sentinel listening")
            except sentinel.SentinelCheckError as exc:
                refused_in_process.append((time.perf_counter() - start, exc.kind))
        # the command's own start-up: --help parses the same commands, checks nothing
        help_cmd = cli_prefix() + ["sentinel", "check", "--help"]
        startup = [run_cli(help_cmd, topo.password)[0] for _ in range(runs)]
        nobody_block.release()
        log("validation: unreachable (refused) done")

    healthy_ms = median(totals) * 1000
    return {
        "runs": runs,
        "healthy_in_process_ms": round(healthy_ms, 2),
        "healthy_in_process_p90_ms": round(sorted(totals)[int(len(totals) * 0.9) - 1] * 1000, 2),
        "healthy_steps_ms": round(median(steps) * 1000, 2),
        "healthy_cli_s": round(median(cli), 3),
        "healthy_target_ms": HEALTHY_TARGET_MS,
        "healthy_met": healthy_ms <= HEALTHY_TARGET_MS,
        "timeout_s": UNREACHABLE_TIMEOUT_S,
        "hung_fail_s": round(median([e for e, _ in hung]), 3),
        "hung_exit_codes": sorted({c for _, c in hung}),
        "hung_in_process_fail_s": round(median([e for e, _ in hung_in_process]), 3),
        "hung_in_process_errors": sorted({k for _, k in hung_in_process}),
        "refused_fail_s": round(median([e for e, _ in refused]), 3),
        "refused_exit_codes": sorted({c for _, c in refused}),
        "refused_in_process_fail_s": round(median([e for e, _ in refused_in_process]), 3),
        "cli_startup_s": round(median(startup), 3),
        # judged on the check itself (in-process), with SLACK_S for the last step's own
        # overhead and scheduling; the CLI adds its start-up, reported beside it
        "unreachable_met": all(
            e <= UNREACHABLE_TIMEOUT_S + SLACK_S for e, _ in hung_in_process + refused_in_process
        )
        and all(c == sentinel.Unreachable.exit_code for _, c in hung + refused),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks validation")
    parser.add_argument("--runs", type=int, default=5)
    args, _ = parser.parse_known_args(argv)
    if not shutil.which("redis-server"):
        print("validation: redis-server is not installed (make bootstrap)", file=sys.stderr)
        return 1
    r = measure(args.runs)
    emit(
        "validation",
        r,
        ["case", "median", "target", "exit", "met"],
        [
            [
                "healthy, in-process check()",
                f"{r['healthy_in_process_ms']:.1f} ms (p90 {r['healthy_in_process_p90_ms']:.1f})",
                f"<= {HEALTHY_TARGET_MS:g} ms",
                0,
                "met" if r["healthy_met"] else "NOT MET",
            ],
            ["healthy, sum of timed steps", f"{r['healthy_steps_ms']:.1f} ms", "", "", ""],
            [
                "healthy, cli",
                f"{r['healthy_cli_s']:.3f} s (start-up {r['cli_startup_s']:.3f} s)",
                "",
                0,
                "",
            ],
            [
                "unreachable, hung sentinels, cli",
                f"{r['hung_fail_s']:.3f} s",
                f"timeout {UNREACHABLE_TIMEOUT_S:g} s + start-up",
                r["hung_exit_codes"],
                "met" if r["unreachable_met"] else "NOT MET",
            ],
            [
                "unreachable, hung sentinels, in-process",
                f"{r['hung_in_process_fail_s']:.3f} s",
                f"<= timeout {UNREACHABLE_TIMEOUT_S:g} s (+{SLACK_S:g})",
                ", ".join(r["hung_in_process_errors"]),
                "met" if r["unreachable_met"] else "NOT MET",
            ],
            [
                "unreachable, nothing listening, in-process",
                f"{r['refused_in_process_fail_s']:.3f} s",
                f"<= timeout {UNREACHABLE_TIMEOUT_S:g} s",
                "",
                "met" if r["unreachable_met"] else "NOT MET",
            ],
            [
                "unreachable, nothing listening, cli",
                f"{r['refused_fail_s']:.3f} s",
                f"timeout {UNREACHABLE_TIMEOUT_S:g} s + start-up",
                r["refused_exit_codes"],
                "met" if r["unreachable_met"] else "NOT MET",
            ],
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
