"""What the three checks share: `sentinel check`, `cluster check` and `elasticache check`.

Each check (service/sentinel.py, cluster.py, elasticache.py) keeps only what is its
own: its target, its steps and its error kinds with their exit codes. This module holds
the rest, once:

- the error base (`CheckError`) and the kinds every check has (`Unreachable`,
  `TimedOut`, `PasswordUnavailable`), which each check subclasses with its own code;
- one overall time limit (`Deadline`) that every network call, name resolution
  included, draws from;
- the report: timed steps and warnings (`Report`), and `Probe`, which opens bounded
  redis connections and times steps into it;
- the command flow (`run`): read the target from the generated repository (naming
  the right command when the repository has another topology), find the password,
  print the report, and turn "nothing answers" into a warning unless `--strict`.
  A command passes one settings object (`CheckSettings` or a check's subclass of it).
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from redis_scaffold.errors import ScaffoldError, UsageError
from redis_scaffold.project import read_answers

Address = tuple[str, int]

KEY_PREFIX = "redis-scaffold:check:"
KEY_TTL_SECONDS = 60


# ---------------------------------------------------------------------- errors
class CheckError(ScaffoldError):
    """A check failed; each check's subclasses say which kind (`kind`) and `exit_code`."""

    kind = "failed"

    def describe(self) -> str:
        return f"{self.kind}: {self}"


class Unreachable(CheckError):
    """Nothing answered: right after generation the deployment often does not exist yet."""

    kind = "unreachable"

    def __init__(self, message: str, tried: Sequence[str] = ()):
        super().__init__(message)
        self.tried = list(tried)


class TimedOut(CheckError):
    """The overall time limit ran out."""

    kind = "timed out"


class TlsUntrusted(CheckError):
    """A server's TLS certificate is not trusted by the CA given (or does not name it)."""


TLS_CA_ENV = "REDIS_TLS_CA_FILE"
# A client certificate, for servers with tls-auth-clients yes (the client libraries' names).
TLS_CERT_ENV, TLS_KEY_ENV = "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"


@dataclass(frozen=True)
class TlsFiles:
    """How a command speaks TLS: the CA it verifies the servers with (hostname check on)
    and, for servers that ask for one (tls-auth-clients yes), its own certificate."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def redis_kwargs(self) -> dict:
        kwargs = {"ssl": True, "ssl_ca_certs": str(self.ca), "ssl_check_hostname": True}
        if self.cert:
            kwargs |= {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}
        return kwargs

    def env(self) -> dict[str, str]:
        """The same files as the environment the commands and the clients read."""
        env = {TLS_CA_ENV: str(self.ca)}
        if self.cert:
            env |= {TLS_CERT_ENV: str(self.cert), TLS_KEY_ENV: str(self.key)}
        return env


NOT_TRUSTED, CERTIFICATE_REQUIRED = "not trusted", "certificate required"


def tls_refusal(exc: BaseException) -> str | None:
    """Why TLS refused a connection: NOT_TRUSTED (our check of the server's certificate)
    or CERTIFICATE_REQUIRED (the server asks for ours: tls-auth-clients yes); None when
    the error is not a TLS refusal."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return NOT_TRUSTED
    if "CERTIFICATE_REQUIRED" in text or "certificate required" in text:
        return CERTIFICATE_REQUIRED
    return None


def untrusted(kind: type[TlsUntrusted], addr: Address, exc: BaseException, ca) -> TlsUntrusted:
    """The one-line failure: who, why (OpenSSL's reason), and what to give."""
    if tls_refusal(exc) == CERTIFICATE_REQUIRED:
        return kind(
            f"{fmt(addr)} asks for a client certificate (tls-auth-clients yes) and none "
            f"was given: give --tls-cert and --tls-key (or ${TLS_CERT_ENV} and ${TLS_KEY_ENV})"
        )
    reason = str(exc).split("certificate verify failed:")[-1].strip(" )")
    return kind(
        f"the TLS certificate of {fmt(addr)} is not trusted ({reason}) by the CA {ca}: "
        "give the CA that signed the servers' certificates with --tls-ca"
    )


def certificate_hint(tls: TlsFiles | None) -> str:
    """What to add to "did not answer" over TLS without a client certificate: a server
    that asks for one (tls-auth-clients yes) may close the connection before its alert
    saying so is read, which then looks like any dropped connection."""
    if tls is None or tls.cert is not None:
        return ""
    return (
        " (TLS without a client certificate: where the servers ask for one, "
        "tls-auth-clients yes, give --tls-cert and --tls-key)"
    )


class PasswordUnavailable(CheckError):
    kind = "no password for the check"


# -------------------------------------------------------------------- addresses
def fmt(addr: Address) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str, default_port: int | None = None) -> Address:
    """'host:port' (or '[v6]:port', or 'host' with a default port) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or host.endswith(":") or (":" in host and not host.startswith("[")):
        host, port = text, ""
    host = host.strip("[]")
    if not port:
        if default_port is None:
            raise ValueError(f"{text!r}: expected HOST:PORT")
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port)


# --------------------------------------------------------------------- deadline
class Deadline:
    """An overall time budget; `remaining()` raises `timed_out` once it is spent."""

    def __init__(
        self,
        seconds: float,
        timed_out: type[TimedOut] = TimedOut,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.seconds = seconds
        self.timed_out = timed_out
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self, doing: str = "") -> float:
        left = self._end - self._clock()
        if left <= 0:
            raise self.timed_out(
                f"the {self.seconds:g} s time limit ran out{' before ' + doing if doing else ''}"
            )
        return left


def resolve(addr: Address, deadline: Deadline) -> Address:
    """Resolve the host within the deadline (getaddrinfo itself has no timeout).

    An IP address comes back as it is; a name, as the first address it resolves to.
    Raises OSError when the name does not resolve in time or at all.
    """
    host, port = addr
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return addr
    except OSError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = future.result(timeout=deadline.remaining(f"resolving {host}"))
    except concurrent.futures.TimeoutError:
        raise OSError(f"resolving {host} did not finish in time") from None
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    finally:
        pool.shutdown(wait=False)
    return infos[0][4][0], port


def reachable(addresses: Sequence[Address], timeout: float = 2.0) -> list[Address]:
    """The addresses that accept a TCP connection (no password needed)."""
    deadline = Deadline(timeout)
    found = []
    for addr in addresses:
        try:
            host, port = resolve(addr, deadline)
            limit = min(1.0, deadline.remaining(f"connecting to {fmt(addr)}"))
            with socket.create_connection((host, port), timeout=limit):
                found.append(addr)
        except (OSError, TimedOut):
            continue
    return found


# ----------------------------------------------------------------------- report
@dataclass
class Step:
    name: str
    detail: str
    seconds: float

    def line(self) -> str:
        return f"  {self.name:<11} {self.detail}  ({self.seconds * 1000:.1f} ms)"


@dataclass
class Report:
    """Timed steps and warnings; each check's subclass writes its own head line."""

    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def head(self) -> list[str]:
        return []

    def text(self) -> str:
        lines = [*self.head(), *(s.line() for s in self.steps)]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    @contextmanager
    def step(self, name: str) -> Iterator[Callable[[str], None]]:
        """Time the block as step `name`; the callable adds to its detail."""
        start = time.perf_counter()
        details: list[str] = []
        yield details.append
        self.steps.append(Step(name, " ".join(details), time.perf_counter() - start))


class Probe:
    """Opens bounded redis connections (one per call) and times named steps into a report."""

    def __init__(
        self,
        password: str | None,
        deadline: Deadline,
        per_call: float,
        report: Report,
        tls: TlsFiles | None = None,
    ):
        self._password = password
        self._deadline = deadline
        self._per_call = per_call
        self.report = report
        self.tls = tls  # TLS on: verified against its CA, hostname check on

    @property
    def tls_ca(self) -> Path | None:
        return self.tls.ca if self.tls else None

    def connect(self, addr: Address):
        import redis

        limit = min(self._per_call, self._deadline.remaining(f"connecting to {fmt(addr)}"))
        host, port = resolve(addr, self._deadline)
        tls = {}
        if self.tls is not None:
            # The certificate names the host, not its address: connect by the name (just
            # resolved within the deadline), and check it.
            host = addr[0]
            tls = self.tls.redis_kwargs()
        return redis.Redis(
            host=host,
            port=port,
            password=self._password,
            decode_responses=True,
            socket_connect_timeout=limit,
            socket_timeout=limit,
            retry=None,
            single_connection_client=True,
            **tls,
        )

    def step(self, name: str):
        return self.report.step(name)


# -------------------------------------------------------------- the command flow
@dataclass(frozen=True)
class CheckSettings:
    """What every check command takes: the repository, the limit, and where to write."""

    project: Path
    timeout: float = 5.0
    strict: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    out: TextIO | None = None  # None: sys.stdout (or stderr) at the time of the call
    err: TextIO | None = None

    @property
    def stdout(self) -> TextIO:
        return self.out or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self.err or sys.stderr


@dataclass(frozen=True)
class PasswordSettings(CheckSettings):
    """A check that signs in with the Redis password (sentinel, cluster)."""

    password_from: str = "env"  # REDIS_PASSWORD, or "secret": the AWS secret
    tls: bool = False  # --tls (also on when the repository has tls)
    tls_ca: Path | None = None  # --tls-ca; default $REDIS_TLS_CA_FILE
    tls_cert: Path | None = None  # --tls-cert; default $REDIS_TLS_CERT_FILE
    tls_key: Path | None = None  # --tls-key; default $REDIS_TLS_KEY_FILE


def tls_for(
    settings: PasswordSettings, repository_tls: bool, source: str = "the repository's tls answer"
) -> TlsFiles | None:
    """How to speak TLS when it is on (--tls, or the repository's `tls` answer); None
    without TLS. A usage error when TLS is on without a CA file, or with half a client
    certificate."""
    if not (settings.tls or repository_tls):
        return None
    ca = settings.tls_ca or settings.environ.get(TLS_CA_ENV)
    why = "--tls" if settings.tls else source
    if not ca:
        raise UsageError(
            f"TLS is on ({why}): give the CA that signed the servers' certificates with "
            f"--tls-ca FILE or ${TLS_CA_ENV} (kubectl -n NAMESPACE get secret TLS_SECRET "
            "-o jsonpath='{.data.ca\\.crt}' | base64 -d > ca.crt)"
        )
    cert = settings.tls_cert or settings.environ.get(TLS_CERT_ENV)
    key = settings.tls_key or settings.environ.get(TLS_KEY_ENV)
    if bool(cert) != bool(key):
        raise UsageError(
            "--tls-cert and --tls-key (or $REDIS_TLS_CERT_FILE and $REDIS_TLS_KEY_FILE) "
            "go together: a client certificate needs its key"
        )
    for flag, path in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if path and not Path(path).is_file():
            raise UsageError(f"{flag}: {path} is not a file")
    return TlsFiles(Path(ca), Path(cert) if cert else None, Path(key) if key else None)


class Check:
    """One check's own parts; `run` does the rest. Subclasses set the class attributes."""

    topology: str  # the `topology` answer this check is for, and its command's name
    unreachable: type[Unreachable]
    no_password: type[PasswordUnavailable] | None = None  # None: no password needed
    members = "node"  # what answers, in "no <members> accept connections"
    ok = ""  # the last line of a healthy report
    partly_ok = ""  # the last line when the check went on past an `Unreachable`
    advice = ""  # after the warning when nothing answers (without --strict)

    def target(self, settings: CheckSettings) -> Any:
        """What to check, from the repository (KeyError, OSError or ValueError: not ours)."""
        raise NotImplementedError

    def addresses(self, target: Any) -> list[Address]:
        """Where to look for a listener when there is no password."""
        return []

    def header(self, target: Any, settings: CheckSettings) -> str:
        raise NotImplementedError

    def check(
        self, target: Any, password: str | None, settings: CheckSettings
    ) -> tuple[Report, Unreachable | None]:
        """The report, and the `Unreachable` the check found but could go on past (or None).

        Raises `Unreachable` when nothing answered at all, another kind when a step fails.
        """
        raise NotImplementedError


def run(check: Check, settings: CheckSettings) -> int:
    """Check the deployment; the report on stdout, warnings on stderr.

    Returns 0 (healthy, or unreachable without `strict`); raises the check's error kind
    otherwise, or UsageError when the project is not a repository of the check's topology.
    """
    target = read_target(check, settings)
    password = None
    if check.no_password is not None:
        try:
            password = password_for(settings, check.no_password)
        except PasswordUnavailable:
            # Without a password nothing can be checked; if nothing listens either, that
            # is the usual "the deployment does not exist yet" case: only a warning.
            addresses = check.addresses(target)
            if not reachable(addresses, settings.timeout):
                tried = ", ".join(map(fmt, addresses))
                return warn_or_raise(
                    check,
                    check.unreachable(
                        f"no {check.members} accepts connections; tried: {tried}",
                        [fmt(a) for a in addresses],
                    ),
                    settings,
                )
            raise
    print(check.header(target, settings), file=settings.stdout)
    try:
        report, unreachable = check.check(target, password, settings)
    except Unreachable as exc:
        return warn_or_raise(check, exc, settings)
    print(report.text(), file=settings.stdout)
    if unreachable is not None:
        warn_or_raise(check, unreachable, settings)
        print(check.partly_ok, file=settings.stdout)
        return 0
    print(check.ok, file=settings.stdout)
    return 0


def warn_or_raise(check: Check, error: Unreachable, settings: CheckSettings) -> int:
    """With --strict a failure (the check's unreachable code); otherwise a warning."""
    if settings.strict:
        raise error
    print(f"warning: {error}. {check.advice}", file=settings.stderr)
    return 0


def read_target(check: Check, settings: CheckSettings) -> Any:
    """The check's target; a usage error naming the right command for another topology."""
    project = settings.project
    try:
        return check.target(settings)
    except (KeyError, OSError, ValueError) as exc:
        other = topology_of(project)
        if other and other != check.topology:
            raise UsageError(
                f"{project} is a repository of topology {other}, not topology "
                f"{check.topology}: check it with `redis-scaffold {other} check {project}`."
            ) from None
        if isinstance(exc, KeyError):
            raise UsageError(
                f"{project} does not say {exc}: is it a repository generated with topology "
                f"{check.topology} (regenerate it or run `redis-scaffold update`)?"
            ) from None
        raise UsageError(str(exc)) from None


def topology_of(project: Path) -> str | None:
    """The repository's `topology` answer (`sentinel` before 0.3.0 asked it), or None."""
    try:
        answers = read_answers(project, missing_ok=True)
    except (OSError, ValueError):
        return None
    if not answers:
        return None
    return str(answers.get("topology") or "sentinel")


def password_for(settings: CheckSettings, unavailable: type[PasswordUnavailable]) -> str:
    """REDIS_PASSWORD, or with `password_from=secret` the AWS secret the repository names."""
    if getattr(settings, "password_from", "env") == "secret":
        return password_from_secret(settings.project, unavailable)
    password = settings.environ.get("REDIS_PASSWORD")
    if not password:
        raise unavailable("REDIS_PASSWORD is not set (or use --password-from secret).")
    return password


def password_from_secret(project: Path, unavailable: type[PasswordUnavailable]) -> str:
    """Read the password from the AWS secret named in terraform/terraform.tfvars.json."""
    from redis_scaffold.project import SpecError, load_spec

    try:
        from redis_scaffold.service.secret import SecretError, make_client, read_password
    except ModuleNotFoundError as exc:
        raise unavailable(
            f"reading the secret needs the Python package {exc.name!r}: pip install redis-scaffold"
        ) from None
    try:
        spec = load_spec(project)
        return read_password(make_client(spec.region or None), spec.name, spec.key)
    except (SecretError, SpecError) as exc:  # their messages never hold the value
        raise unavailable(str(exc)) from None


# ------------------------------------------------------------ the command line
def add_check_parser(
    subparsers, check: Check, group_help: str, help: str, description: str, epilog: str
):
    """`redis-scaffold <topology> check PROJECT_DIR`; the caller adds the options."""
    import argparse

    group = subparsers.add_parser(check.topology, help=group_help)
    sub = group.add_subparsers(dest=f"{check.topology}_command", required=True, metavar="ACTION")
    parser = sub.add_parser(
        "check",
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "project", type=Path, metavar="PROJECT_DIR", help="the generated repository"
    )
    return parser


def add_tls_options(parser) -> None:
    parser.add_argument(
        "--tls",
        action="store_true",
        help="speak TLS (on by itself for a repository generated with tls: yes)",
    )
    parser.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help=f"the CA that signed the servers' certificates (PEM); default ${TLS_CA_ENV}",
    )
    parser.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help=f"a client certificate (PEM), for servers with tls-auth-clients yes; default ${TLS_CERT_ENV}",
    )
    parser.add_argument(
        "--tls-key",
        type=Path,
        metavar="FILE",
        help=f"the client certificate's key (PEM); default ${TLS_KEY_ENV}",
    )


def add_password_option(parser) -> None:
    parser.add_argument(
        "--password-from",
        choices=("env", "secret"),
        default="env",
        help="REDIS_PASSWORD (default), or the AWS secret named in terraform/terraform.tfvars.json",
    )


def from_env_list(values: list[str] | None, environ: Mapping[str, str], name: str) -> tuple:
    """The repeated option's values, else the comma-separated `name` variable's."""
    return tuple(values or [s for s in environ.get(name, "").split(",") if s.strip()])
