"""The Node client with no sentinel reachable: one clear error after a bounded time.

The same contract as the Python client (MasterNotFoundError once its retries are spent):
the generated redis_client.js runs under real node with the ioredis the tests pin
(tests/node), against loopback ports where nothing listens. It must end by itself, with
one MasterNotFoundError, and print none of ioredis' "Unhandled error event" traces.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

NODE_MODULES = Path(__file__).parent / "node" / "node_modules"
pytestmark = pytest.mark.skipif(
    not (NODE_MODULES / "ioredis").is_dir(), reason="no ioredis in tests/node: scripts/bootstrap.sh"
)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def node_client(generate) -> Path:
    # down_after_ms 1000: the writer gives up after twice that, 2000 ms.
    answers = {"client_languages": ["node"], "customise": True, "down_after_ms": 1000}
    return generate(answers) / "client" / "node"


def run_node(folder: Path, args: list[str]) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "NODE_PATH": str(NODE_MODULES),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_READ_PORT": str(closed_port()),
        "REDIS_SENTINEL_PORT": str(closed_port()),
        "REDIS_MASTER_SET": "svc-redis",
        "REDIS_PASSWORD": "not-a-real-password",
    }
    # The timeout only guards against a hang; no duration is asserted.
    return subprocess.run(
        ["node", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_example_gives_up_with_one_master_not_found_error(node_client):
    result = run_node(node_client, ["redis_client.js"])
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "MasterNotFoundError: no master found for 'svc-redis' within 2000 ms: no sentinel of 127.0.0.1:"
    )
    assert "not-a-real-password" not in result.stderr


SCRIPT = """
const client = require("./redis_client.js");
const w = client.writer(client.settingsFromEnv(), { giveUpMs: 300 });
const r = client.reader();
Promise.allSettled([w.set("cart:1", "x"), w.get("cart:1"), r.get("cart:1")]).then((results) => {
  r.disconnect();  // the reader keeps reconnecting until told; the writer has ended
  console.log(JSON.stringify({
    writes: results.slice(0, 2).map((x) => [x.status, x.reason && x.reason.name,
      x.reason instanceof client.MasterNotFoundError]),
    read: results[2].status,
    writer: w.status,
  }));
});
"""


def test_every_waiting_command_gets_the_error_and_the_process_ends(node_client):
    """giveUpMs is the configured bound; both waiting commands reject with the error,
    the writer ends, and node exits by itself with nothing left running."""
    (node_client / "give_up.js").write_text(SCRIPT)
    result = run_node(node_client, ["give_up.js"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "writes": [["rejected", "MasterNotFoundError", True]] * 2,
        "read": "rejected",
        "writer": "end",
    }
    assert result.stderr == ""  # no "[ioredis] Unhandled error event"
