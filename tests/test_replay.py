"""`python -m functions replay`: dead letters -> the events topic -> the notifier, on the Pub/Sub emulator.

The events topic has a push subscription into a functions-framework notifier (as in test_e2e.py);
the dead-letter topic has the pull subscription deploy.sh creates. Dead letters are published to it
directly (what Pub/Sub does after the last failed delivery), then the real command runs as a
subprocess. Every dead letter must come out as exactly one push, including across an interrupted
run (SIGINT, --max) finished by a second one; a dry run acknowledges nothing.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from devstack import services
from tests.helpers import event, log_lines, now_rfc3339

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-byok-test"
DL_ATTRIBUTES = {"version": "1", "CloudPubSubDeadLetterSourceDeliveryCount": "10",
                 "CloudPubSubDeadLetterSourceSubscription": "eventarc-notifier-sub"}


@pytest.fixture(scope="module")
def worker(service_env, log_dir):
    svc = services.start_function("notify_byok_llm_error", service_env, log_dir=log_dir, name="notify-replay")
    yield svc
    svc.stop()


@pytest.fixture
def queues(pubsub_emulator, worker, monkeypatch):
    """A fresh events topic pushed into the worker, and a dead-letter topic with its keep subscription."""
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    tag = uuid.uuid4().hex[:6]
    topic = publisher.topic_path(PROJECT, f"byok-llm-errors-{tag}")
    dead = publisher.topic_path(PROJECT, f"byok-llm-errors-{tag}-dead-letter")
    push = subscriber.subscription_path(PROJECT, f"notifier-{tag}")
    keep = subscriber.subscription_path(PROJECT, f"byok-llm-errors-{tag}-dead-letter-keep")
    for t in (topic, dead):
        publisher.create_topic(name=t)
    subscriber.create_subscription(request={"name": push, "topic": topic, "ack_deadline_seconds": 10,
                                            "push_config": {"push_endpoint": f"http://{worker.address}/"}})
    subscriber.create_subscription(request={"name": keep, "topic": dead, "ack_deadline_seconds": 30})
    q = {"publisher": publisher, "subscriber": subscriber, "topic": topic, "dead": dead, "keep": keep,
         "env": {**os.environ, "PUBSUB_EMULATOR_HOST": pubsub_emulator.address, "GOOGLE_CLOUD_PROJECT": PROJECT}}
    yield q
    for s in (push, keep):
        subscriber.delete_subscription(subscription=s)
    for t in (topic, dead):
        publisher.delete_topic(topic=t)
    publisher.stop()
    subscriber.close()


def dead_letters(q, firestore_db, n: int, **event_extra) -> list[str]:
    """n users with a phone each, and one dead letter of a first failure per user; returns the uids."""
    uids = [f"dl-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    batch = firestore_db.batch()
    for uid in uids:
        batch.set(firestore_db.document(f"users/{uid}/fcm_tokens/phone"), {"token": f"tok-{uid}"})
    batch.commit()
    # an outage's backlog: one user's failure every three minutes (failures of many users within the same minutes
    # would be held as one fault, functions/surge.py, and are tested there)
    futures = [q["publisher"].publish(q["dead"], json.dumps(event(uid, **{"occurred_at": now_rfc3339(-180 * i),
                                                                           **event_extra})).encode(), **DL_ATTRIBUTES)
               for i, uid in enumerate(uids)]
    for f in futures:
        f.result(timeout=30)
    return uids


def replay(q, *args: str) -> tuple[int, list[dict], dict]:
    result = subprocess.run([sys.executable, "-m", "functions", "replay", "--subscription", q["keep"],
                             "--topic", q["topic"], "--wait", "1", *args], cwd=ROOT, env=q["env"], text=True,
                            capture_output=True, timeout=120)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1].get("summary"), result.stderr
    return result.returncode, lines[:-1], lines[-1]


def remaining(q) -> int:
    """Dead letters still in the keep subscription (pulled, counted, all given back at the end)."""
    sub = q["subscriber"]
    ids, held, empty = set(), [], 0
    while empty < 2:
        resp = sub.pull(request={"subscription": q["keep"], "max_messages": 100, "return_immediately": True},
                        timeout=10)
        if not resp.received_messages:
            empty += 1
            continue
        ids |= {r.message.message_id for r in resp.received_messages}
        held += [r.ack_id for r in resp.received_messages]
    if held:
        sub.modify_ack_deadline(request={"subscription": q["keep"], "ack_deadline_seconds": 0, "ack_ids": held})
    return len(ids)


def pushes_to(fcm, uids: list[str]) -> dict[str, int]:
    wanted = {f"tok-{u}": u for u in uids}
    counts = {u: 0 for u in uids}
    for m in fcm.delivered():
        tok = m["message"].get("token")
        if tok in wanted:
            counts[wanted[tok]] += 1
    return counts


def wait_for_pushes(fcm, uids: list[str], timeout: float = 60.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = pushes_to(fcm, uids)
        if all(counts.values()):
            break
        time.sleep(0.1)
    time.sleep(1.0)  # anything extra (a duplicate republish) would arrive now
    return pushes_to(fcm, uids)


def sent_outcomes(worker, uids: list[str]) -> int:
    wanted = set(uids)
    return sum(1 for line in log_lines(worker.log_path.read_text(errors="replace"))
               if line.get("uid") in wanted and line.get("outcome") == "sent")


def test_every_dead_letter_is_replayed_once_and_handled(queues, worker, firestore_db, redis_db, fcm):
    uids = dead_letters(queues, firestore_db, 12)
    code, lines, summary = replay(queues)
    assert code == 0, summary
    assert summary["replayed"] == 12 and summary["failed"] == 0 and summary["skipped_too_old"] == 0
    assert {line["outcome"] for line in lines} == {"replayed"}
    assert wait_for_pushes(fcm, uids) == {u: 1 for u in uids}
    assert sent_outcomes(worker, uids) == 12
    assert remaining(queues) == 0  # every replayed dead letter was acknowledged


def test_attributes_and_data_are_republished_unchanged(queues, firestore_db, redis_db, fcm):
    tap = queues["subscriber"].subscription_path(PROJECT, f"tap-{uuid.uuid4().hex[:6]}")
    queues["subscriber"].create_subscription(request={"name": tap, "topic": queues["topic"]})
    try:
        data = json.dumps(event("dl-attrs", error={"status_code": 503})).encode()
        queues["publisher"].publish(queues["dead"], data, **DL_ATTRIBUTES).result(timeout=30)
        code, _, summary = replay(queues)
        assert code == 0 and summary["replayed"] == 1
        resp = queues["subscriber"].pull(request={"subscription": tap, "max_messages": 10}, timeout=5)
        assert len(resp.received_messages) == 1
        msg = resp.received_messages[0].message
        assert msg.data == data and dict(msg.attributes) == DL_ATTRIBUTES
    finally:
        queues["subscriber"].delete_subscription(subscription=tap)


def test_dry_run_acknowledges_nothing(queues, firestore_db, redis_db, fcm):
    uids = dead_letters(queues, firestore_db, 5)
    code, lines, summary = replay(queues, "--dry-run")
    assert code == 0 and summary["would_replay"] == 5 and summary["replayed"] == 0
    assert sorted(line["outcome"] for line in lines) == ["would_replay"] * 5
    assert remaining(queues) == 5
    time.sleep(0.5)
    assert pushes_to(fcm, uids) == {u: 0 for u in uids}  # nothing was republished


def test_max_then_a_second_run_finishes_the_rest(queues, worker, firestore_db, redis_db, fcm):
    uids = dead_letters(queues, firestore_db, 7)
    code, _, first = replay(queues, "--max", "3", "--batch-size", "2")
    assert code == 0 and first["replayed"] == 3
    assert remaining(queues) == 4
    code, _, second = replay(queues)
    assert code == 0 and second["replayed"] == 4
    assert wait_for_pushes(fcm, uids) == {u: 1 for u in uids}
    assert remaining(queues) == 0


def test_sigint_mid_run_loses_nothing_and_a_second_run_finishes(queues, worker, firestore_db, redis_db, fcm):
    n = 150
    uids = dead_letters(queues, firestore_db, n)
    proc = subprocess.Popen([sys.executable, "-m", "functions", "replay", "--subscription", queues["keep"],
                             "--topic", queues["topic"], "--wait", "1", "--batch-size", "1"], cwd=ROOT, env=queues["env"],
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first_line = proc.stdout.readline()  # the first dead letter is replayed: interrupt now
        assert json.loads(first_line)["outcome"] == "replayed"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    summary = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 130 and summary["interrupted"] is True, err
    assert 1 <= summary["replayed"] < n and summary["failed"] == 0
    assert summary["pulled"] == summary["replayed"]  # nothing pulled was left unpublished or dropped
    assert remaining(queues) == n - summary["replayed"]
    code, _, second = replay(queues)
    assert code == 0 and second["replayed"] == n - summary["replayed"]
    assert wait_for_pushes(fcm, uids, timeout=120) == {u: 1 for u in uids}
    assert sent_outcomes(worker, uids) == n


def test_too_old_dead_letters_are_acknowledged_without_a_republish(queues, firestore_db, redis_db, fcm):
    old = dead_letters(queues, firestore_db, 2, occurred_at=now_rfc3339(-2 * 86400))
    fresh = dead_letters(queues, firestore_db, 1)
    code, lines, summary = replay(queues)
    assert code == 0 and summary["skipped_too_old"] == 2 and summary["replayed"] == 1
    assert sorted(line["outcome"] for line in lines) == ["replayed", "skipped_too_old", "skipped_too_old"]
    assert wait_for_pushes(fcm, fresh) == {fresh[0]: 1}
    assert pushes_to(fcm, old) == {u: 0 for u in old}
    assert remaining(queues) == 0  # acknowledged: they would come back on every replay otherwise


def test_a_failed_republish_keeps_the_dead_letter(queues, firestore_db, redis_db, fcm):
    uids = dead_letters(queues, firestore_db, 2)
    missing = queues["publisher"].topic_path(PROJECT, f"no-such-topic-{uuid.uuid4().hex[:6]}")
    result = subprocess.run([sys.executable, "-m", "functions", "replay", "--subscription", queues["keep"],
                             "--topic", missing, "--wait", "1"], cwd=ROOT, env=queues["env"], text=True, capture_output=True,
                            timeout=120)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1 and summary["failed"] >= 1 and summary["replayed"] == 0
    assert remaining(queues) == 2
    code, _, again = replay(queues)
    assert code == 0 and again["replayed"] == 2
    assert wait_for_pushes(fcm, uids) == {u: 1 for u in uids}
