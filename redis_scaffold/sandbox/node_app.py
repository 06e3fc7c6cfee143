"""The GENERATED client adapters in processes of their own, with the app's env.

NodeApp: client/node/redis_client.js under real node. ioredis and the client library
(@example-org/redis-service-client, installed from clients/node as a copy) come from a
node_modules installed by `npm ci` from a committed lockfile (tests/node: the newest
ioredis of the library's range; tests/node-ioredis5: the oldest; scripts/bootstrap.sh);
they are found through NODE_PATH (the adapter is CommonJS).
PythonApp: client/python/redis_client.py under another Python (a venv holding one end
of the library's redis-py range, .venv-clients/), the library from clients/python/src.
The env is the one sandbox.app.loopback_env gives the in-process Python adapter: the
same contract. Both run the same write load (node_load.cjs, py_load.py), so the version
matrix runs every variant against ONE fault event, each in its own process.

    app = NodeApp(repo, topology.app_env(), node_modules)
    app.run_example()                               # node redis_client.js: write, read back
    with NodeWriteLoad(app, "kill", wait_replicas=2) as load:
        ...                                         # the same measures as load.WriteLoad
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from redis_scaffold.sandbox.load import Ack, LoadRecord
from redis_scaffold.sandbox.nodes import TopologyError

CLIENT_DIR = Path("client/node")
LOAD_SCRIPT = Path(__file__).with_name("node_load.cjs")
PY_LOAD_SCRIPT = Path(__file__).with_name("py_load.py")
LIBRARY = "@example-org/redis-service-client"
# The library's sources in this checkout (absent from a non-editable install: then the
# installed copy is used as it is).
CLIENTS = Path(__file__).resolve().parents[2] / "clients"


class AppProcess:
    """What both adapters' processes share: run a command or the write load (the same
    arguments for node_load.cjs and py_load.py) with the app's env, in the adapter's folder."""

    snippet: Path
    load_script: Path

    def interpreter(self) -> str:
        raise NotImplementedError

    def process_env(self) -> dict[str, str]:
        raise NotImplementedError

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.interpreter(), *args],
            env=self.process_env(),
            cwd=self.snippet.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn_load(
        self, prefix: str, wait_replicas: int, wait_ms: int, pause_ms: float, max_seconds: float
    ):
        argv = [self.interpreter(), str(self.load_script), str(self.snippet), prefix]
        argv += [str(wait_replicas), str(wait_ms), str(pause_ms), str(max_seconds)]
        return subprocess.Popen(
            argv,
            env=self.process_env(),
            cwd=self.snippet.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


class NodeApp(AppProcess):
    """The generated Node snippet of `repo`, configured from `env` as an app would be."""

    load_script = LOAD_SCRIPT

    def interpreter(self) -> str:
        return self.node

    def __init__(self, repo: Path, env: Mapping[str, str], node_modules: Path) -> None:
        self.repo = Path(repo)
        self.snippet = self.repo / CLIENT_DIR / "redis_client.js"
        if not self.snippet.is_file():
            raise TopologyError(f"{self.snippet} not found: generate with client_languages: [node]")
        self.node_modules = Path(node_modules)
        if not (self.node_modules / "ioredis").is_dir():
            raise TopologyError(f"no ioredis in {self.node_modules}: run scripts/bootstrap.sh test")
        installed = self.node_modules / LIBRARY / "index.js"
        source = CLIENTS / "node" / "index.js"
        if not installed.is_file() or (
            source.is_file() and installed.read_bytes() != source.read_bytes()
        ):
            raise TopologyError(
                f"{installed} is missing or older than {source}: run scripts/bootstrap.sh test"
            )
        self.node = shutil.which("node")
        if self.node is None:
            raise TopologyError("node is not installed (scripts/bootstrap.sh installs it)")
        self.env = dict(env)

    def process_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NODE_PATH": str(self.node_modules),
            **self.env,
        }

    def run_example(self, timeout: float = 60) -> subprocess.CompletedProcess:
        """`node redis_client.js`: the snippet's own write (WAIT-confirmed) and read back."""
        return self.run(str(self.snippet), timeout=timeout)


class PythonApp(AppProcess):
    """The generated Python adapter of `repo` under `python` (another venv), as NodeApp."""

    load_script = PY_LOAD_SCRIPT

    def interpreter(self) -> str:
        return str(self.python)

    def __init__(self, repo: Path, env: Mapping[str, str], python: Path) -> None:
        self.repo = Path(repo)
        self.snippet = self.repo / "client" / "python" / "redis_client.py"
        if not self.snippet.is_file():
            raise TopologyError(
                f"{self.snippet} not found: generate with client_languages: [python]"
            )
        self.python = Path(python)
        if not self.python.is_file():
            raise TopologyError(f"no {self.python}: run scripts/bootstrap.sh test")
        self.env = dict(env)

    def process_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(CLIENTS / "python" / "src"),
            **self.env,
        }


class NodeWriteLoad(LoadRecord):
    """load.WriteLoad's write load, run in a process of its own through a generated
    adapter: `app` is a NodeApp or a PythonApp."""

    def __init__(
        self,
        app: NodeApp,
        prefix: str,
        wait_replicas: int = 1,
        wait_ms: int = 50,
        pause_s: float = 0.002,
        max_seconds: float = 120.0,
    ) -> None:
        self.app, self.prefix, self.wait_replicas = app, prefix, wait_replicas
        self.wait_ms, self.pause_s, self.max_seconds = wait_ms, pause_s, max_seconds
        self.acks: list[Ack] = []
        self.errors: Counter = Counter()
        self.error_times: list[tuple[float, str]] = []
        self.error_samples: dict[str, str] = {}
        self.attempts = 0
        self.stderr = ""
        self.versions: dict = {}  # what the load's first line names (py_load.py)
        self._proc: subprocess.Popen | None = None
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"node-load-{prefix}")

    @staticmethod
    def _mono(ms: float) -> float:
        """node prints CLOCK_MONOTONIC milliseconds (process.hrtime): time.monotonic()'s
        clock on Linux. (Wall-clock times would jump with the clock: one run here
        recorded an acknowledgement 0.7 s before the write it answered was issued.)"""
        return ms / 1000

    def _read(self) -> None:
        for line in self._proc.stdout:
            record = json.loads(line)
            if "seq" not in record:
                if "done" not in record:
                    self.versions.update(record)
                continue
            self.attempts += 1
            if "error" in record:
                self.record_error(record["error"], record["sample"], self._mono(record["at"]))
            else:
                started, acked = self._mono(record["started"]), self._mono(record["acked"])
                self.acks.append(Ack(record["seq"], started, acked, int(record["replicas"])))

    @property
    def pid(self) -> int | None:
        """The load's process (the app), once started."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> NodeWriteLoad:
        self._proc = self.app.spawn_load(
            self.prefix, self.wait_replicas, self.wait_ms, self.pause_s * 1000, self.max_seconds
        )
        self._reader.start()
        return self

    def stop(self) -> NodeWriteLoad:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=10)
        if self._proc is not None and self._proc.stderr:
            self.stderr = self._proc.stderr.read()[-2000:]
        return self

    def __enter__(self) -> NodeWriteLoad:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
