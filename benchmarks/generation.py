"""Benchmark 3, generation: `copier copy --defaults` of the full template vs. a trivial one.

Both templates are tagged git repositories (the full one is the working tree as it
is now, snapshotted as the tests do), copied by the same copier with the same flags
(`--defaults --trust --skip-tasks --vcs-ref v0.1.0`). The trivial template holds the
same number of files at the same paths, each rendering one variable, and one
question; so the ratio is the cost of this template's questions, validators and
Jinja over copier's own fixed cost (git clone, answers file, file writes).

Measured two ways, median of --runs (default 5), runs interleaved:
  cli        wall time of the `copier copy` command, interpreter start included
             (what a user waits for; the target is on this one)
  in-process copier.run_copy() in this process (no interpreter start: a stricter ratio)
Target: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import copier

from benchmarks import emit, log, median
from redis_scaffold.sandbox.snapshot import snapshot_template

TAG = "v0.1.0"
TARGET_RATIO = 1.5


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def full_template(dst: Path) -> Path:
    dst.mkdir(parents=True)
    return snapshot_template(dst, TAG)


def generated_files(repo: Path) -> list[str]:
    return sorted(
        str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
    )


def trivial_template(dst: Path, files: list[str]) -> Path:
    """A template yielding the same files at the same paths, each rendering one answer."""
    (dst / "template").mkdir(parents=True)
    (dst / "copier.yml").write_text(
        "service_name:\n  type: str\n  default: shopping-cart\n\n"
        "_subdirectory: template\n_answers_file: .copier-answers.yml\n_templates_suffix: .jinja\n"
    )
    for rel in files:
        if rel == ".copier-answers.yml":
            target = dst / "template" / "{{_copier_conf.answers_file}}.jinja"
            target.write_text("{{ _copier_answers|to_nice_yaml }}")
            continue
        target = dst / "template" / f"{rel}.jinja"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("# {{ service_name }}\n")
    _git(dst, "init", "-q", "-b", "main")
    _git(dst, "add", "-A")
    _git(
        dst,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.invalid",
        "commit",
        "-q",
        "-m",
        "trivial",
    )
    _git(dst, "tag", TAG)
    return dst


def copy_cli(src: Path, dst: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "copier",
        "copy",
        "--defaults",
        "--trust",
        "--skip-tasks",
        "--quiet",
        "--vcs-ref",
        TAG,
        str(src),
        str(dst),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def copy_in_process(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    copier.run_copy(
        str(src), dst, defaults=True, unsafe=True, skip_tasks=True, quiet=True, vcs_ref=TAG
    )
    return time.perf_counter() - start


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        root = Path(tmp)
        full = full_template(root / "full")
        probe = root / "probe"
        copy_in_process(full, probe)  # warm-up, and the list of files it yields
        files = generated_files(probe)
        trivial = trivial_template(root / "trivial", files)
        trivial_files = generated_files(
            _fresh(root, "probe-trivial", lambda d: copy_in_process(trivial, d))
        )
        assert len(trivial_files) == len(files), (len(trivial_files), len(files))

        times: dict[str, list[float]] = {
            k: [] for k in ("cli_full", "cli_trivial", "proc_full", "proc_trivial")
        }
        for n in range(runs):
            log(f"generation: run {n + 1}/{runs}")
            # interleave, so drift of the machine hits both sides alike
            times["cli_trivial"].append(_fresh(root, "out", lambda d: None, copy_cli, trivial))
            times["cli_full"].append(_fresh(root, "out", lambda d: None, copy_cli, full))
            times["proc_trivial"].append(
                _fresh(root, "out", lambda d: None, copy_in_process, trivial)
            )
            times["proc_full"].append(_fresh(root, "out", lambda d: None, copy_in_process, full))
    med = {k: median(v) for k, v in times.items()}
    cli_ratio = med["cli_full"] / med["cli_trivial"]
    proc_ratio = med["proc_full"] / med["proc_trivial"]
    return {
        "files": len(files),
        "runs": runs,
        "cli_full_s": round(med["cli_full"], 3),
        "cli_trivial_s": round(med["cli_trivial"], 3),
        "cli_ratio": round(cli_ratio, 2),
        "in_process_full_s": round(med["proc_full"], 3),
        "in_process_trivial_s": round(med["proc_trivial"], 3),
        "in_process_ratio": round(proc_ratio, 2),
        "target_ratio": TARGET_RATIO,
        "met": cli_ratio <= TARGET_RATIO,
    }


def _fresh(root: Path, name: str, then, timed=None, src: Path | None = None):
    """Run `timed(src, dst)` (or `then(dst)`) into an empty root/name; return its result or dst."""
    dst = root / name
    shutil.rmtree(dst, ignore_errors=True)
    if timed is not None:
        result = timed(src, dst)
        shutil.rmtree(dst, ignore_errors=True)
        return result
    then(dst)
    return dst


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks generation")
    parser.add_argument("--runs", type=int, default=5)
    args, _ = parser.parse_known_args(argv)
    r = measure(args.runs)
    emit(
        "generation",
        r,
        ["copier copy --defaults", "full template (s)", "trivial template (s)", "ratio", "target"],
        [
            [
                "cli (median)",
                r["cli_full_s"],
                r["cli_trivial_s"],
                r["cli_ratio"],
                f"<= {TARGET_RATIO}",
            ],
            [
                "in-process (median)",
                r["in_process_full_s"],
                r["in_process_trivial_s"],
                r["in_process_ratio"],
                "-",
            ],
            [f"files per copy: {r['files']}", "", "", "", "met" if r["met"] else "NOT MET"],
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
