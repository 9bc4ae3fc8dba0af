"""The notifier against a real three-node Redis Cluster on loopback, as Memorystore for Redis Cluster
would be used at scale (REDIS_CLUSTER=1).

Each protocol step touches one key, and every key of one user and provider carries the hash tag
`{provider:uid}`, so the SET NX GET and the Lua settle/release scripts each run on the one node that
owns the slot; different users spread over the nodes. These tests show dedup, the lease, its
release and the settle hold there, including after the nodes forget their scripts.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from devstack import services
from functions import clients, config, dedup, notify
from tests.helpers import event, pubsub_data

pytestmark = pytest.mark.skipif(not shutil.which("redis-cli"), reason="redis-cli is not installed")


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = services.free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind((services.HOST, port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _cluster_ok(port: int) -> bool:
    out = subprocess.run(["redis-cli", "-h", services.HOST, "-p", str(port), "cluster", "info"],
                         capture_output=True, text=True, timeout=5).stdout
    return "cluster_state:ok" in out


@pytest.fixture(scope="module")
def redis_cluster():
    """Three redis-server nodes in cluster mode, joined by redis-cli --cluster create; no replicas."""
    root = Path(tempfile.mkdtemp(prefix="byok-cluster-"))
    nodes = []
    try:
        for _ in range(3):
            port = _cluster_port()
            node_dir = root / str(port)
            node_dir.mkdir()
            nodes.append(services.start_redis(port, node_dir, "--cluster-enabled", "yes",
                                              "--cluster-config-file", "nodes.conf",
                                              "--cluster-node-timeout", "2000"))
        addrs = [n.address for n in nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while not all(_cluster_ok(n.port) for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not reach cluster_state:ok")
            time.sleep(0.2)
        yield nodes
    finally:
        for n in nodes:
            n.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster_env(env, redis_cluster, firestore_db, fcm, monkeypatch):
    """The notifier in this process pointed at the cluster (any node is a valid entry)."""
    monkeypatch.setenv("REDIS_URL", f"redis://{redis_cluster[1].address}/0")
    monkeypatch.setenv("REDIS_CLUSTER", "1")
    config.reset()
    clients.reset()
    client = clients.redis_client()
    client.flushall(target_nodes="primaries")
    yield client
    config.reset()
    clients.reset()


def handle(payload: dict, event_id: str | None = None) -> str:
    event_id = event_id or uuid.uuid4().hex
    return notify.handle_pubsub_event(event_id, pubsub_data(payload, event_id))


def key(uid: str, reason: str = "quota_exhausted") -> str:
    return dedup.Subject(uid, "openai", reason).key


def node_of(client, k: str) -> str:
    return client.get_node_from_key(k).name


def test_the_client_is_a_cluster_client_and_users_spread_over_the_nodes(cluster_env, firestore_db, fcm):
    from redis.cluster import RedisCluster

    assert isinstance(cluster_env, RedisCluster)
    assert len(cluster_env.get_primaries()) == 3
    uids = [f"spread-{i}" for i in range(24)]
    for uid in uids:
        firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
        assert handle(event(uid)) == "sent"
    # each mark is on the node that owns its slot, and the users are not all on one node
    assert {node_of(cluster_env, key(u)) for u in uids} == {n.name for n in cluster_env.get_primaries()}
    for uid in uids:
        assert cluster_env.get(key(uid)).startswith(b"M|sent|")
    assert len(fcm.delivered()) == len(uids)


def test_every_key_of_one_user_and_provider_is_in_one_slot(cluster_env):
    from redis.crc import key_slot

    subjects = [dedup.Subject("u/1 é", "openai", reason, fp)
                for reason in ("quota_exhausted", "invalid_key", "permission_denied")
                for fp in (None, "sha256:abc", "fp/2")]
    assert len({key_slot(s.key.encode()) for s in subjects}) == 1


def _all_at_once(jobs: list[tuple[str, str]]) -> list[str]:
    """handle() for every (uid, event id) in its own thread, released together; an exception is
    recorded by its class name, so the assertion names it."""
    results: list[str] = []
    barrier = threading.Barrier(len(jobs))

    def run(uid: str, event_id: str) -> None:
        barrier.wait()
        try:
            results.append(handle(event(uid), event_id))
        except Exception as exc:  # noqa: BLE001
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _users_with_a_phone(firestore_db, prefix: str, n: int) -> list[str]:
    uids = [f"{prefix}-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    for uid in uids:
        firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    return uids


def test_concurrent_copies_give_exactly_one_push_per_user(cluster_env, firestore_db, fcm):
    uids = _users_with_a_phone(firestore_db, "conc", 8)
    results = _all_at_once([(uid, uuid.uuid4().hex) for uid in uids for _ in range(8)])  # 64 events
    assert sorted(results) == sorted(["sent"] * 8 + ["suppressed"] * 56)
    delivered = sorted(m["message"]["token"] for m in fcm.delivered())
    assert delivered == sorted(f"tok-{uid}" for uid in uids)


def test_a_burst_beyond_the_pool_waits_for_a_connection_instead_of_failing(cluster_env, firestore_db, fcm):
    """More concurrent events than pooled connections per node: each waits for a free connection."""
    from redis import BlockingConnectionPool

    for node in cluster_env.get_primaries():
        pool = node.redis_connection.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        pool.disconnect()
        pool.max_connections = 2  # the 48 threads below share 2 connections per node
        pool.reset()
    uids = _users_with_a_phone(firestore_db, "burst", 6)
    results = _all_at_once([(uid, uuid.uuid4().hex) for uid in uids for _ in range(8)])
    assert sorted(results) == sorted(["sent"] * 6 + ["suppressed"] * 42)


def test_failed_send_releases_the_lease_and_the_retry_settles(cluster_env, firestore_db, fcm, uid):
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    fcm.state.fail_next = 100  # FCM answers 503 to everything, firebase-admin's retries included
    event_id = uuid.uuid4().hex
    with pytest.raises(notify.RetryLater):
        handle(event(uid), event_id)
    assert cluster_env.get(key(uid)) is None  # released on the node that owns the slot
    fcm.state.fail_next = 0
    assert handle(event(uid), event_id) == "sent"  # Pub/Sub's redelivery of the same event
    assert cluster_env.get(key(uid)).startswith(b"M|sent|")
    assert 86000 < cluster_env.ttl(key(uid)) <= 86400
    assert handle(event(uid)) == "suppressed"
    assert len(fcm.delivered()) == 1


def test_a_lease_held_by_a_dead_worker_blocks_until_it_expires(cluster_env, firestore_db, fcm, uid):
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    event_id = uuid.uuid4().hex
    subject = dedup.Subject(uid, "openai", "quota_exhausted")
    verdict, _ = dedup.acquire(cluster_env, subject, dedup.lease_value(event_id), 120, event_id)
    assert verdict is dedup.Acquired.TAKEN  # then the worker dies
    with pytest.raises(notify.RetryLater):
        handle(event(uid), event_id)  # the redelivery of that event: retried, not dropped
    assert handle(event(uid)) == "suppressed"  # another event: the delivery is under way
    cluster_env.pexpire(subject.key, 1)
    time.sleep(0.01)
    assert handle(event(uid), event_id) == "sent"
    assert len(fcm.delivered()) == 1


def test_settle_and_release_only_touch_their_own_lease(cluster_env, uid):
    subject = dedup.Subject(uid, "openai", "invalid_key")
    mine, theirs = dedup.lease_value("e1"), dedup.lease_value("e2")
    assert dedup.acquire(cluster_env, subject, mine, 120, "e1")[0] is dedup.Acquired.TAKEN
    cluster_env.set(subject.key, theirs, px=120_000)  # mine lapsed and another delivery took over
    assert dedup.settle(cluster_env, subject, mine, "sent", "e1", 3600) is False
    assert dedup.release(cluster_env, subject, mine) is False
    assert cluster_env.get(subject.key) == theirs
    assert dedup.settle(cluster_env, subject, theirs, "sent", "e2", 3600) is True
    assert cluster_env.get(subject.key).startswith(b"M|sent|e2|")


def flush_scripts(client) -> None:
    """Every node forgets its scripts, as after a restart or a failover to a fresh replica."""
    for node in client.get_primaries():
        client.execute_command("SCRIPT", "FLUSH", target_nodes=node)


def test_scripts_are_reloaded_when_the_nodes_forget_them(cluster_env, uid):
    flush_scripts(cluster_env)
    subject = dedup.Subject(uid, "openai", "permission_denied")
    lease = dedup.lease_value("e1")
    dedup.acquire(cluster_env, subject, lease, 120, "e1")
    assert dedup.release(cluster_env, subject, lease) is True
    assert cluster_env.get(subject.key) is None
    dedup.acquire(cluster_env, subject, lease, 120, "e1")
    flush_scripts(cluster_env)
    assert dedup.settle(cluster_env, subject, lease, "no_targets", "e1", 3600) is True
    assert 3500 < cluster_env.ttl(subject.key) <= 3600


def test_no_targets_keeps_a_short_mark(cluster_env, firestore_db, fcm, uid):
    assert handle(event(uid)) == "no_targets"
    assert cluster_env.get(key(uid)).startswith(b"M|no_targets|")
    assert 3500 < cluster_env.ttl(key(uid)) <= 3600
    assert handle(event(uid)) == "suppressed"
    assert fcm.state.requests == 0


def test_cluster_switch_is_validated_with_the_rest_of_the_configuration():
    base = {"GOOGLE_CLOUD_PROJECT": "demo-p", "REDIS_URL": "redis://10.0.0.5:6379"}
    assert config.load(base).redis_cluster is False
    assert config.load({**base, "REDIS_CLUSTER": "1"}).redis_cluster is True
    assert config.load({**base, "REDIS_CLUSTER": "true"}).redis_cluster is True
    with pytest.raises(config.ConfigError) as info:
        config.load({**base, "REDIS_URL": "redis://10.0.0.5:6379/3", "REDIS_CLUSTER": "maybe"})
    assert "REDIS_CLUSTER must be 1 or 0" in str(info.value)
    with pytest.raises(config.ConfigError, match="needs database 0"):
        config.load({**base, "REDIS_URL": "redis://10.0.0.5:6379/3", "REDIS_CLUSTER": "1"})


def test_the_surge_hold_counts_and_lists_on_a_cluster(cluster_env, firestore_db, fcm, monkeypatch):
    """The surge count is one Lua call over three keys; their shared hash tag keeps it legal on a cluster."""
    from functions import surge

    monkeypatch.setenv("SURGE_USERS", "2")
    config.reset()
    uids = _users_with_a_phone(firestore_db, "surge", 4)
    assert [handle(event(uid)) for uid in uids] == ["sent", "sent", "held", "held"]
    groups = surge.active(cluster_env, 600)
    assert [(g["provider"], g["reason"], g["users"]) for g in groups] == [("openai", "quota_exhausted", 4)]
    surge.release(cluster_env, "openai", "quota_exhausted", groups[0]["rule"], 60)
    late = _users_with_a_phone(firestore_db, "surge-late", 1)[0]
    assert handle(event(late)) == "sent"
