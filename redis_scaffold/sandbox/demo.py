"""`redis-scaffold demo`: the whole flow on this machine, with nothing outside loopback.

1. start a local AWS emulator (moto in server mode on 127.0.0.1);
2. generate the shopping-cart repository with copier (default answers) from this
   template: the checkout as it is (uncommitted changes included) when run from one,
   else the template files installed with the package;
3. run `redis-scaffold secret ensure` on it against the emulator;
4. start 3 redis + 3 sentinels on loopback from the generated repo's own config and
   start scripts, with the password read back from the emulated secret;
5. run `redis-scaffold sentinel check --strict --password-from secret`;
6. write and read with the generated client snippet (client/python/redis_client.py).

Everything it started is stopped on success, on failure and on Ctrl-C (or SIGTERM).
The password is never printed: the hooks get it from the secret or the environment.

For tests that interrupt it: with REDIS_SCAFFOLD_DEMO_PAUSE_AT=POINT (one of emulator,
generated, secret, topology, checked, client) the demo stops after that step, creates
the file WORKDIR/paused-at-POINT and waits there (at most 10 minutes) for Ctrl-C or
SIGTERM, so a signal always lands at a known point of a running demo.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

# Where `python -m redis_scaffold` finds this very package, for the hooks the demo runs.
PACKAGE_HOME = Path(__file__).resolve().parents[2]
SERVICE = "shopping-cart"
DESCRIPTION = """\
Try the template on this machine, with nothing outside loopback:

  1. start a local AWS emulator (moto);
  2. generate the shopping-cart repository with copier (default answers);
  3. create its secret with `redis-scaffold secret ensure`, in the emulator;
  4. start 3 redis + 3 sentinels from the repository's own config and start scripts;
  5. run `redis-scaffold sentinel check --strict --password-from secret`;
  6. write and read with the repository's generated Python client.

Everything it started is stopped at the end, on failure and on Ctrl-C. The password is
never printed. Needs redis-server and redis-sentinel on PATH."""
PAUSE_ENV = "REDIS_SCAFFOLD_DEMO_PAUSE_AT"
PAUSE_POINTS = ("emulator", "generated", "secret", "topology", "checked", "client")
PAUSE_MAX_S = 600


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


class Narrator:
    """Numbered steps on `out`; child output indented under its step."""

    def __init__(self, out: TextIO):
        self.out = out
        self.count = 0

    def step(self, text: str) -> None:
        self.count += 1
        print(f"\n[{self.count}] {text}", file=self.out, flush=True)

    def say(self, text: str) -> None:
        for line in text.rstrip().splitlines():
            print(f"    {line}", file=self.out, flush=True)


def hook_env(aws: Mapping[str, str]) -> dict[str, str]:
    """This process's env, minus anything that could reach real AWS, plus the emulator's."""
    from redis_scaffold.sandbox import emulator

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in emulator.AWS_ENV_TO_CLEAR and k != "REDIS_PASSWORD"
    }
    env.update(aws)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_HOME), env.get("PYTHONPATH")]))
    return env


def run_hook(
    narrator: Narrator, args: list[str], env: Mapping[str, str], timeout: float = 120
) -> None:
    """Run `redis-scaffold ARGS` as its own process, as a user would; show its output."""
    result = subprocess.run(
        [sys.executable, "-m", "redis_scaffold", *args],
        env=dict(env),
        cwd=PACKAGE_HOME,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    narrator.say(result.stdout + result.stderr)
    if result.returncode != 0:
        raise DemoError(f"`redis-scaffold {' '.join(args[:2])}` exited {result.returncode}")


def generate(dst: Path, tls: bool = False) -> Path:
    import copier

    from redis_scaffold.template_files import in_git_checkout, template_root

    root = template_root()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # copier's "dirty template" notice: intended here
        copier.run_copy(
            str(root),
            dst,
            # --tls: TLS everywhere; the sandbox's CA stands in for cert-manager's issuer.
            data={"service_name": SERVICE}
            | ({"tls": True, "tls_issuer": "ClusterIssuer/platform-ca"} if tls else {}),
            defaults=True,
            unsafe=True,
            skip_tasks=True,
            quiet=True,
            vcs_ref="HEAD" if in_git_checkout(root) else None,
        )
    return dst


def emulated_password(project: Path, endpoint: str, aws: Mapping[str, str]) -> str:
    """Read the password back from the emulated secret (boto3 pointed at it explicitly)."""
    import boto3

    from redis_scaffold.project import load_spec
    from redis_scaffold.service.secret import read_password

    spec = load_spec(project)
    client = boto3.session.Session(
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        region_name=spec.region,
    ).client("secretsmanager", endpoint_url=endpoint)
    return read_password(client, spec.name, spec.key)


def use_client(narrator: Narrator, topo) -> None:
    """The generated client, set up from the env the redis-env component gives an app."""
    app = topo.app()
    writer, reader = app.writer(), app.reader()
    key = f"cart:demo:{uuid.uuid4().hex[:8]}"
    writer.set(key, "3 items", ex=300)
    master = writer.connection_pool.get_master_address()
    narrator.say(
        f"writer(): SET {key} on the master {master[0]}:{master[1]}, found through Sentinel"
    )
    synced = writer.wait(len(topo.nodes) - 1, 5000)
    narrator.say(f"WAIT: {synced} of {len(topo.nodes) - 1} replicas have it")
    value = reader.get(key)
    settings = app.settings
    narrator.say(f"reader(): GET {key} on {settings.hosts[0]}:{settings.read_port} -> {value!r}")
    writer.close()
    reader.close()
    if value != b"3 items":
        raise DemoError(f"the read of {key} returned {value!r}")


class PausePoint:
    """Where a test asked the demo to wait for its signal (PAUSE_ENV), if anywhere."""

    def __init__(self, narrator: Narrator, workdir: Path, point: str | None) -> None:
        if point and point not in PAUSE_POINTS:
            raise DemoError(f"{PAUSE_ENV}={point}: not one of {', '.join(PAUSE_POINTS)}")
        self.narrator, self.workdir, self.point = narrator, workdir, point

    def reached(self, point: str) -> None:
        """After step `point`: if it is the pause point, say so, and wait for a signal."""
        if point != self.point:
            return
        self.narrator.say(f"paused after '{point}' ({PAUSE_ENV}): waiting for Ctrl-C or SIGTERM")
        (self.workdir / f"paused-at-{point}").touch()
        deadline = time.monotonic() + PAUSE_MAX_S
        while time.monotonic() < deadline:
            time.sleep(0.1)  # a signal interrupts the sleep (KeyboardInterrupt)
        raise DemoError(f"paused at '{point}' for {PAUSE_MAX_S} s and no signal came")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM (and SIGHUP) unwind like Ctrl-C, so every `finally` runs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, interrupt)
        except ValueError:  # not the main thread: leave the handlers alone
            pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_demo(workdir: Path, out: TextIO, tls: bool = False) -> None:
    from redis_scaffold.sandbox import emulator
    from redis_scaffold.sandbox.sentinel import LocalSentinel

    narrator = Narrator(out)
    pause = PausePoint(narrator, workdir, os.environ.get(PAUSE_ENV))
    with contextlib.ExitStack() as stack:
        narrator.step("Starting the AWS emulator (moto server)")
        endpoint = stack.enter_context(emulator.moto_server())
        aws = emulator.aws_env(endpoint)
        narrator.say(f"listening on {endpoint}; boto3 and the hooks are pointed at it, not at AWS")
        pause.reached("emulator")

        answers = "default answers" + (", tls: yes" if tls else "")
        narrator.step(f"Generating the {SERVICE} repository with copier ({answers})")
        project = generate(workdir / SERVICE, tls)
        narrator.say(f"{project}")
        pause.reached("generated")

        narrator.step("redis-scaffold secret ensure (against the emulator)")
        env = hook_env(aws)
        run_hook(narrator, ["secret", "ensure", str(project)], env)
        pause.reached("secret")

        narrator.step("Starting 3 redis + 3 sentinels from the generated config")
        password = emulated_password(project, endpoint, aws)
        narrator.say("password read back from the emulated secret (not shown)")
        topo = LocalSentinel(
            project, workdir / "topology", password=password
        )  # a free loopback block
        stack.callback(
            lambda: narrator.say(
                f"stopped redis and sentinel on {', '.join(n.host for n in topo.nodes)}"
            )
        )
        stack.callback(topo.close)
        topo.start()
        topo.wait_until_ready(60)
        master = topo.master_address()
        narrator.say(
            f"pods on {', '.join(n.host for n in topo.nodes)}; master {master[0]}:{master[1]}"
        )
        if topo.tls_ca:
            narrator.say(
                f"TLS only on every port; each pod's certificate from the sandbox's CA "
                f"{topo.tls_ca.cert} (cert-manager's part in a cluster)"
            )
        pause.reached("topology")

        narrator.step("redis-scaffold sentinel check --strict --password-from secret")
        sentinels = [a for host, port in topo.sentinels for a in ("--sentinel", f"{host}:{port}")]
        run_hook(
            narrator,
            [
                "sentinel",
                "check",
                str(project),
                *sentinels,
                "--strict",
                "--password-from",
                "secret",
            ],
            env | (topo.tls.env() if topo.tls else {}),
        )
        pause.reached("checked")

        narrator.step("The generated client snippet (client/python/redis_client.py)")
        use_client(narrator, topo)
        pause.reached("client")

        narrator.step("Stopping everything the demo started")


def publish(project: Path, dst: Path) -> None:
    """Copy the generated repository (and nothing of the sandbox) to `dst`.

    A previous demo's output is replaced; any other existing directory is refused.
    """
    if dst.exists():
        if not (dst / ".copier-answers.yml").is_file():
            raise RuntimeError(
                f"{dst} exists and is not a generated repository: not overwriting it"
            )
        shutil.rmtree(dst)
    shutil.copytree(project, dst, symlinks=True)


def _main(args: argparse.Namespace) -> int:
    out = sys.stdout
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="redis-scaffold-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.workdir is not None
    code = 0
    try:
        with stop_on_signals():
            run_demo(workdir, out, tls=args.tls)
        if args.out:
            publish(workdir / SERVICE, args.out)
            print(
                f"\nThe generated repository is in {args.out} (the sandbox's data was removed).",
                file=out,
            )
        print("\nDemo complete: the template, both hooks and the client work end to end.", file=out)
    except KeyboardInterrupt:
        print("\nInterrupted: everything the demo started has been stopped.", file=out)
        code = 130
    except Exception as exc:  # every failure: one line, after everything was stopped
        print(
            f"\nDemo failed: {type(exc).__name__}: {exc}\nEverything the demo started has been stopped.",
            file=out,
        )
        code = 1
    finally:
        if keep:
            print(f"Files kept in {workdir}", file=out)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow locally: emulator, generation, secret, Sentinel, client",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workdir", type=Path, metavar="DIR", help="where to generate and run (kept)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="copy the generated repository here at the end (replaces a previous demo's output)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="generate with tls: yes: every port TLS only, pods' certificates from a local CA",
    )
    parser.set_defaults(func=_main)
