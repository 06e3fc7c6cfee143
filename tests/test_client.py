"""The GENERATED Python client snippet, imported from the generated repo, against real Sentinel.

Story: a service writes through writer(), reads through reader(); the master is
SIGKILLed; the same writer() keeps writing and lands on the new master; nothing
acknowledged before the crash is lost.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest

from redis_scaffold.sandbox.topology import LocalTopology

pytestmark = pytest.mark.slow


@pytest.fixture
def repo(topology_repo: Path) -> Path:
    return topology_repo


def load_generated_client(repo: Path):
    path = repo / "client" / "python" / "redis_client.py"
    spec = importlib.util.spec_from_file_location(f"redis_client_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def component_env(topo: LocalTopology) -> dict[str, str]:
    """What the redis-env component sets, with the loopback hosts in place of the Service."""
    return {
        "REDIS_HOST": ",".join(n.host for n in topo.nodes),
        "REDIS_READ_PORT": str(topo.redis_port),
        "REDIS_SENTINEL_PORT": str(topo.sentinel_port),
        "REDIS_MASTER_SET": topo.master_set,
        "REDIS_PASSWORD": topo.password,
    }


def test_settings_come_from_the_component_env(repo):
    client = load_generated_client(repo)
    env = {
        "REDIS_HOST": "shopping-cart-redis.redis.svc.cluster.local",
        "REDIS_READ_PORT": "6379",
        "REDIS_SENTINEL_PORT": "26379",
        "REDIS_MASTER_SET": "shopping-cart-redis",
        "REDIS_PASSWORD": "never-shown",
    }
    settings = client.settings_from_env(env)
    assert settings.sentinels == [("shopping-cart-redis.redis.svc.cluster.local", 26379)]
    assert "never-shown" not in repr(settings)
    with pytest.raises(RuntimeError, match="REDIS_PASSWORD"):
        client.settings_from_env({k: v for k, v in env.items() if k != "REDIS_PASSWORD"})


def test_writer_survives_a_master_kill_and_nothing_is_lost(repo, topology):
    topo = topology
    client = load_generated_client(repo)
    settings = client.settings_from_env(component_env(topo))
    writer, reader = client.writer(settings), client.reader(settings)
    prefix = f"cart:{uuid.uuid4().hex}:"

    writer.set(prefix + "before", "1 item")
    assert writer.wait(len(topo.nodes) - 1, 5000) == len(topo.nodes) - 1
    assert reader.get(prefix + "before") == b"1 item"

    old = topo.master_address()
    topo.kill(topo.node_at(old[0]))
    # Issued while the master is dead: the writer's retries carry it to the new master.
    writer.set(prefix + "during", "2 items")
    writer.set(prefix + "after", "3 items")

    new = topo.master_address()
    assert new != old
    assert writer.connection_pool.get_master_address() == new
    with topo.client(topo.node_at(new[0])) as master:
        assert master.mget([prefix + k for k in ("before", "during", "after")]) == ["1 item", "2 items", "3 items"]
