"""Fault drills against the real services: a dependency fails in the middle of a load, then recovers.

Each drill runs a mixed load (bench/loadgen.py: new actionable events for distinct users,
duplicates, non-actionable errors, poison) through a functions-framework worker, from 8 senders
that redeliver anything not answered 2xx, as Pub/Sub does (with a shorter backoff). In the middle,
one dependency fails: Redis is restarted, the Firestore emulator is stopped and started again, or
FCM answers 503 for a while. Afterwards every user who should have been told was told exactly
once, and nobody else. (A worker killed mid-send is in tests/test_e2e.py.)
Each drill is bounded (the load gives up after 120 s); the file runs in about a minute.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bench import loadgen
from devstack import services
from functions import dedup

pytestmark = pytest.mark.slow

PROJECT = "demo-byok-test"
SENDERS = 8


def worker_env(service_env: dict, **overrides: str) -> dict:
    # short timeouts keep a failing attempt short; the lease still covers a whole send
    return {**service_env, "FCM_TIMEOUT_SECONDS": "2", "FIRESTORE_TIMEOUT_SECONDS": "2",
            "DELIVERY_LEASE_SECONDS": "20", "THREADS": "8", **overrides}


def redis_with_aof(port: int, directory: Path) -> services.Service:
    """A Redis that keeps its keys across a restart (append-only file, fsync on every write), as a
    Memorystore instance with persistence or a replicated failover does."""
    return services.start_redis(port, directory, "--appendonly", "yes", "--appendfsync", "always")


def run_load(worker, m: loadgen.Mix) -> loadgen.Load:
    return loadgen.Load(f"http://{worker.address}/", m.events, senders=SENDERS, deadline_seconds=120).start()


def assert_told_exactly_once(load: loadgen.Load, m: loadgen.Mix, fcm) -> None:
    load.wait(150)
    assert load.unacked == []
    assert loadgen.check(m.expected_pushes(), loadgen.delivered_tokens(fcm)) == []


def test_redis_restarted_in_the_middle_of_a_load(service_env, firestore_db, fcm, log_dir):
    directory = Path(tempfile.mkdtemp(prefix="byok-drill-redis-"))
    port = services.free_port()
    redis_svc = redis_with_aof(port, directory)
    env = worker_env(service_env, REDIS_URL=f"redis://{redis_svc.address}/0")
    worker = services.start_function("notify_byok_llm_error", env, log_dir=log_dir)
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    try:
        m = loadgen.mix(total=1500, new_fraction=0.02, marked_users=100, seed=1)
        loadgen.seed(m, firestore_db, client)
        load = run_load(worker, m)
        load.wait_for_acked(500)
        redis_svc.stop()  # SIGTERM: Redis writes its append-only file and exits
        time.sleep(3)  # events keep coming: each one is answered 500 and redelivered
        failed_during_outage = sum(load.failures.values())
        redis_svc = redis_with_aof(port, directory)
        assert_told_exactly_once(load, m, fcm)
        assert failed_during_outage > 0  # the outage was real: events were retried, not dropped
        outcomes = loadgen.outcomes(worker.log_path)
        assert outcomes["retry"] > 0
        assert outcomes["sent"] == len(m.devices)
    finally:
        client.close()
        worker.stop()
        redis_svc.stop()


def test_redis_down_between_send_and_settle_does_not_notify_twice(env, firestore_db, fcm, uid,
                                                                  monkeypatch):
    """The worst moment for a Redis outage: the push went out and the mark is not written yet.
    The local FCM server stops Redis the moment it accepts the push, before it answers; nothing is patched."""
    from functions import clients, config, notify

    directory = Path(tempfile.mkdtemp(prefix="byok-drill-settle-"))
    port = services.free_port()
    # Every Redis this test starts, the one restarted from a timer thread included, is kept here and
    # stopped at the end. (A Redis restarted by the timer after the test had moved on used to survive
    # the run: the test saw the new Redis answer PING before the timer had recorded it.)
    started = [redis_with_aof(port, directory)]
    timers: list[threading.Timer] = []
    monkeypatch.setenv("REDIS_URL", f"redis://{started[0].address}/0")
    monkeypatch.setenv("DELIVERY_LEASE_SECONDS", "30")
    monkeypatch.setenv("FCM_TIMEOUT_SECONDS", "8")     # the push's answer waits for Redis to stop
    monkeypatch.setenv("FIRESTORE_TIMEOUT_SECONDS", "2")
    config.reset()
    clients.reset()
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})

    def lose_redis():
        started[-1].stop()
        timer = threading.Timer(2.0, lambda: started.append(redis_with_aof(port, directory)))
        timers.append(timer)
        timer.start()

    fcm.state.after_accept = lose_redis
    try:
        assert notify.handle_pubsub_event("e1", loadgen.Event("new", "e1", loadgen.error_event(uid, loadgen.QUOTA))
                                          .cloudevent_data()) == "sent"
        assert fcm.state.after_accept is None      # it ran, on the one push
        for timer in timers:
            timer.join(30)  # the restarted Redis is recorded in `started` before the test goes on
        assert len(started) == 2 and _pings(port)
        import redis

        client = redis.Redis(port=port)
        key = dedup.Subject(uid, "openai", "quota_exhausted").key
        client.pexpire(key, 1)  # whatever holds the key now runs out (the lease would in 30 s)
        time.sleep(0.01)
        for n in range(3):  # the broken key keeps failing
            notify.handle_pubsub_event(f"e{n + 2}", loadgen.Event("new", f"e{n + 2}", loadgen.error_event(
                uid, loadgen.QUOTA)).cloudevent_data())
        client.close()
        assert len(fcm.delivered()) == 1
    finally:
        config.reset()
        clients.reset()
        for timer in timers:
            timer.cancel()
            timer.join(30)  # a restart under way finishes (and is recorded) before the stops below
        for svc in started:
            svc.stop()


def _pings(port: int) -> bool:
    try:
        with socket.create_connection((services.HOST, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Gate:
    """A TCP forwarder in front of the Firestore emulator that can refuse connections.

    The emulator keeps its data in memory, so a restarted one is empty until the test reseeds it;
    production Firestore loses nothing in an outage. The gate stays shut from the stop until the
    reseed is done, so the worker never sees the empty emulator (it would rightly conclude the
    users have no devices)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.open = True
        self.sock = socket.create_server((services.HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection((services.HOST, self.upstream), timeout=2)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def shut(self) -> None:
        self.open = False
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def close(self) -> None:
        self.shut()
        self.sock.close()


def test_firestore_emulator_stopped_and_started_again(service_env, redis_db, fcm, log_dir):
    from google.cloud import firestore

    port = services.free_port()
    emulator = services.start_firestore_emulator(port, log_dir)
    gate = Gate(port)
    env = worker_env(service_env, FIRESTORE_EMULATOR_HOST=f"{services.HOST}:{gate.port}")
    worker = services.start_function("notify_byok_llm_error", env, log_dir=log_dir)
    saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
    db = firestore.Client(project=PROJECT)
    try:
        m = loadgen.mix(total=1200, new_fraction=0.03, marked_users=100, seed=2)
        loadgen.seed(m, db, redis_db)
        load = run_load(worker, m)
        load.wait_for_acked(300)
        gate.shut()
        emulator.stop()
        time.sleep(1)
        emulator = services.start_firestore_emulator(port, log_dir)
        db.close()
        db = firestore.Client(project=PROJECT)
        loadgen.seed(m, db, redis_db)  # the emulator forgot everything: the devices again (marks are in Redis)
        gate.open = True
        assert_told_exactly_once(load, m, fcm)
        outcomes = loadgen.outcomes(worker.log_path)
        assert outcomes["sent"] == len(m.devices)
        assert outcomes["no_targets"] == 0
    finally:
        db.close()
        worker.stop()
        gate.close()
        emulator.stop()
        if saved is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved


def test_fcm_answering_503_for_a_while_then_recovering(service_env, redis_db, firestore_db, fcm, log_dir):
    worker = services.start_function("notify_byok_llm_error", worker_env(service_env), log_dir=log_dir)
    try:
        m = loadgen.mix(total=1000, new_fraction=0.03, marked_users=100, seed=3)
        loadgen.seed(m, firestore_db, redis_db)
        load = run_load(worker, m)
        load.wait_for_acked(150)
        fcm.state.fail_next = 10**9  # every send answered 503 UNAVAILABLE from now on
        time.sleep(10)  # longer than firebase-admin's own 503 retries (5 attempts, ~7.5 s)
        fcm.state.fail_next = 0
        refused = sum(1 for msg in fcm.state.inbox if msg["status"] == 503)
        assert_told_exactly_once(load, m, fcm)
        outcomes = loadgen.outcomes(worker.log_path)
        assert refused > 0 and outcomes["retry"] > 0  # deliveries failed and were retried
        assert outcomes["sent"] == len(m.devices)
    finally:
        worker.stop()
