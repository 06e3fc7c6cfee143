"""The write load of load.py, run in a Python of its own through the GENERATED adapter.

    python py_load.py <client/python/redis_client.py> <prefix> <wait replicas> <wait ms> <pause ms> <max s>

Standard library and the adapter's own imports only (redis-py and redis_service_client,
from the interpreter's venv and PYTHONPATH): the version matrix runs it under each end of
the redis-py range the library declares (node_app.PythonApp). The protocol of
node_load.cjs, one JSON line per write on stdout:
  {"seq": 1, "started": <ms>, "acked": <ms>, "replicas": 2}
  {"seq": 2, "started": <ms>, "at": <ms>, "error": "ConnectionError", "sample": "..."}
Times are time.monotonic() in ms. Stops on SIGTERM. Never prints the password (errors
are reduced to their kind and first words). The first line names the versions:
  {"redis_py": "5.0.1", "library": "0.3.0"}
"""

import importlib.util
import json
import signal
import sys
import threading
import time

adapter, prefix, wait_replicas, wait_ms, pause_ms, max_seconds = sys.argv[1:7]
wait_replicas, wait_ms = int(wait_replicas), int(wait_ms)
pause_s, max_seconds = float(pause_ms) / 1000, float(max_seconds)

spec = importlib.util.spec_from_file_location("redis_client", adapter)
client = importlib.util.module_from_spec(spec)
sys.modules["redis_client"] = client
spec.loader.exec_module(client)

import redis  # noqa: E402 - after the adapter, which imports it
import redis_service_client  # noqa: E402

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


def out(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def now() -> float:
    return time.monotonic() * 1000


def kind(exc: Exception) -> str:
    text = str(exc).split(" ", 1)[0] if isinstance(exc, redis.ResponseError) else ""
    return f"{type(exc).__name__}{':' + text if text else ''}"


out(
    {"redis_py": redis_service_client.check_redis_py(), "library": redis_service_client.__version__}
)
w = client.writer()
end = time.monotonic() + max_seconds
seq = 0
while not stop.is_set() and time.monotonic() < end:
    seq += 1
    started = now()
    try:
        pipe = w.pipeline(transaction=False)
        pipe.set(f"{prefix}:{seq:09d}", seq)
        if wait_replicas:
            pipe.execute_command("WAIT", wait_replicas, wait_ms)
        ok, *replicas = pipe.execute()
        out(
            {
                "seq": seq,
                "started": started,
                "acked": now(),
                "replicas": int(replicas[0]) if replicas else 0,
            }
        )
        stop.wait(pause_s)
    except redis.RedisError as exc:
        out(
            {
                "seq": seq,
                "started": started,
                "at": now(),
                "error": kind(exc),
                "sample": str(exc)[:60],
            }
        )
        stop.wait(0.02)
w.close()
out({"done": True})
