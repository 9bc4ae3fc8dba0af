"""The whole way: Pub/Sub emulator topic -> push subscription -> functions-framework -> local FCM.

Plus the faults that need real processes: a worker killed in the middle of a send, FCM down and
back with Pub/Sub's own redelivery.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest
import requests

from devstack import services
from functions import dedup
from tests.helpers import event, log_lines, pubsub_data

TOPIC = "byok-llm-errors"


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def notifier_env(service_env):
    # short timeouts keep the worker-kill test quick; the lease still covers a whole send
    return {**service_env, "FCM_TIMEOUT_SECONDS": "2", "FIRESTORE_TIMEOUT_SECONDS": "2",
            "DELIVERY_LEASE_SECONDS": "20"}


@pytest.fixture(scope="module")
def worker(notifier_env, log_dir):
    svc = services.start_function("notify_byok_llm_error", notifier_env, log_dir=log_dir)
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def pubsub(pubsub_emulator, worker):
    """A topic with a push subscription to the notifier worker, on the real emulator."""
    from google.cloud import pubsub_v1

    old = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator.address
    try:
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        project = "demo-byok-test"
        topic = publisher.topic_path(project, f"{TOPIC}-{uuid.uuid4().hex[:6]}")
        publisher.create_topic(name=topic)
        subscription = subscriber.subscription_path(project, f"notifier-{uuid.uuid4().hex[:6]}")
        subscriber.create_subscription(request={
            "name": subscription, "topic": topic, "ack_deadline_seconds": 10,
            "push_config": {"push_endpoint": f"http://{worker.address}/"},
        })
        yield publisher, topic
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic)
    finally:
        if old is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = old


def outcomes(worker, uid: str) -> list[str]:
    return [line["outcome"] for line in log_lines(worker.log_path.read_text(errors="replace"))
            if line.get("uid") == uid and "outcome" in line]


def test_published_event_reaches_the_phone_once(pubsub, worker, firestore_db, redis_db, fcm, uid):
    publisher, topic = pubsub
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    firestore_db.document(f"users/{uid}/fcm_tokens/old").set({"token": f"dead-{uid}"})

    for _ in range(5):  # the broken key fails on every request
        publisher.publish(topic, json.dumps(event(uid)).encode()).result(timeout=10)

    wait_for(lambda: len(outcomes(worker, uid)) == 5)
    assert sorted(outcomes(worker, uid)) == ["sent"] + ["suppressed"] * 4
    delivered = [m for m in fcm.delivered() if m["message"].get("token") == f"tok-{uid}"]
    assert len(delivered) == 1
    assert delivered[0]["message"]["data"]["reason"] == "quota_exhausted"
    old = firestore_db.document(f"users/{uid}/fcm_tokens/old").get().to_dict()
    assert old["invalid"] is True and old["invalid_reason"] == "UNREGISTERED"


def test_poison_and_transient_errors_are_acknowledged_without_a_push(pubsub, worker, firestore_db,
                                                                     redis_db, fcm, uid):
    publisher, topic = pubsub
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    publisher.publish(topic, b"{definitely not json").result(timeout=10)
    publisher.publish(topic, json.dumps(event(uid, error={"status_code": 529, "type": "overloaded_error"})).encode()
                      ).result(timeout=10)
    publisher.publish(topic, json.dumps({**event(uid), "uid": "../etc"}).encode()).result(timeout=10)
    publisher.publish(topic, json.dumps(event(uid, error={"status_code": 402, "message": "Insufficient credits"},
                                              provider="openrouter")).encode()).result(timeout=10)
    wait_for(lambda: "sent" in outcomes(worker, uid))
    time.sleep(1.0)  # a poison message that was not acknowledged would come back now
    assert sorted(outcomes(worker, uid)) == ["not_actionable", "sent"]
    assert len(fcm.delivered()) == 1


@pytest.mark.slow
def test_fcm_down_then_back_is_delivered_once_by_pubsub_redelivery(pubsub, worker, firestore_db, redis_db,
                                                                    fcm, uid):
    publisher, topic = pubsub
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    fcm.state.fail_next = 10  # the first attempt and firebase-admin's own retries all get 503
    publisher.publish(topic, json.dumps(event(uid)).encode()).result(timeout=10)
    wait_for(lambda: "retry" in outcomes(worker, uid), timeout=60)
    fcm.state.fail_next = 0
    wait_for(lambda: "sent" in outcomes(worker, uid), timeout=90)
    assert len(fcm.delivered()) == 1
    assert redis_db.get(dedup.Subject(uid, "openai", "quota_exhausted").key).startswith(b"M|sent|")


def post_cloudevent(address: str, event_id: str, data: dict, timeout: float = 30) -> requests.Response:
    """A binary-mode Pub/Sub CloudEvent, as Eventarc delivers it."""
    headers = {"ce-id": event_id, "ce-specversion": "1.0",
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
               "ce-source": "//pubsub.googleapis.com/projects/demo-byok-test/topics/byok-llm-errors",
               "content-type": "application/json"}
    return requests.post(f"http://{address}/", data=json.dumps(data), headers=headers, timeout=timeout)


@pytest.mark.slow
def test_worker_killed_mid_send_leaves_only_the_lease_and_the_redelivery_notifies(
        notifier_env, log_dir, firestore_db, redis_db, fcm, uid):
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    fcm.state.overrides[f"tok-{uid}"] = "hang"  # FCM takes the request and never answers
    fcm.state.hang_seconds = 60
    victim = services.start_function("notify_byok_llm_error", notifier_env, log_dir=log_dir)
    event_id = f"evt-{uuid.uuid4().hex[:8]}"
    data = pubsub_data(event(uid), event_id)
    try:
        sender = threading.Thread(target=lambda: _ignore(post_cloudevent, victim.address, event_id, data),
                                  daemon=True)
        sender.start()
        wait_for(lambda: fcm.state.requests >= 1)
        os.killpg(victim.proc.pid, signal.SIGKILL)  # the instance dies in the middle of the send
        victim.proc.wait(10)
    finally:
        victim.stop()

    key = dedup.Subject(uid, "openai", "quota_exhausted").key
    assert redis_db.get(key).startswith(f"L|{event_id}|".encode())  # only the short lease
    assert 0 < redis_db.pttl(key) <= 20_000
    assert fcm.delivered() == []

    fcm.state.overrides.clear()
    survivor = services.start_function("notify_byok_llm_error", notifier_env, log_dir=log_dir)
    try:
        # Pub/Sub redelivers before the lease expires: retried, not acknowledged as a duplicate
        assert post_cloudevent(survivor.address, event_id, data).status_code == 500
        redis_db.pexpire(key, 1)  # the lease runs out
        time.sleep(0.05)
        assert post_cloudevent(survivor.address, event_id, data).status_code == 200
    finally:
        survivor.stop()
    assert len(fcm.delivered()) == 1
    assert redis_db.get(key).startswith(b"M|sent|")


def _ignore(fn, *args):
    try:
        fn(*args)
    except requests.RequestException:
        pass


def test_backend_reporter_failure_then_recovery_through_pubsub(pubsub, worker, firestore_db, redis_db, fcm, uid):
    """The backend's Reporter -> Pub/Sub -> notifier: one push, then a recovery clears status and marks."""
    from byok_reporter import Reporter

    _publisher, topic = pubsub
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    reporter = Reporter("demo-byok-test", topic)
    try:
        for _ in range(20):  # a broken key fails on every request
            reporter.report(uid, "openai", {"status_code": 401, "code": "invalid_api_key",
                                            "message": "Incorrect API key provided: sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX"})
        assert reporter.flush(20)
        wait_for(lambda: "sent" in outcomes(worker, uid))
        assert firestore_db.document(f"users/{uid}/byok_status/openai").get().exists
        assert reporter.report_recovered(uid, "openai")
        assert reporter.flush(20)
        wait_for(lambda: "recovered" in outcomes(worker, uid))
    finally:
        reporter.close(5)
    assert outcomes(worker, uid) == ["sent", "recovered"]  # the flood was one message
    assert not firestore_db.document(f"users/{uid}/byok_status/openai").get().exists
    assert redis_db.keys(f"byok:{{openai:{uid}}}*") == []
    pushed = json.dumps(fcm.delivered())
    assert len(fcm.delivered()) == 1 and "sk-proj" not in pushed


def test_a_bad_deploy_failing_every_user_alike_pages_us_and_tells_only_the_first(pubsub, worker, firestore_db,
                                                                                  redis_db, fcm):
    """Our backend starts sending every user a well-formed but wrong key (the key-form check cannot see it): 30
    users' calls fail with the same 401 at once. Through the real Reporter, Pub/Sub and functions-framework, the
    default surge hold (SURGE_USERS=25) tells the first 25 and holds the rest, each hold an ERROR line."""
    from byok_reporter import Reporter

    _publisher, topic = pubsub
    uids = [f"deploy-{uuid.uuid4().hex[:10]}" for _ in range(30)]
    for uid in uids:
        firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    reporter = Reporter("demo-byok-test", topic)
    try:
        for uid in uids:
            reporter.report(uid, "openai", {"status_code": 401, "code": "invalid_api_key",
                                            "message": "Incorrect API key provided: sk-proj-****wxyz"})
        assert reporter.flush(20)
        wait_for(lambda: all(outcomes(worker, uid) for uid in uids), timeout=60)
    finally:
        reporter.close(5)
    decided = {uid: outcomes(worker, uid) for uid in uids}
    assert sorted(o for seen in decided.values() for o in seen) == ["held"] * 5 + ["sent"] * 25
    lines = [line for line in log_lines(worker.log_path.read_text(errors="replace"))
             if line.get("outcome") == "held" and line.get("uid") in decided]
    assert {line["severity"] for line in lines} == {"ERROR"} and {line["rule"] for line in lines} == {
        "openai.invalid_api_key"}
    assert sorted(line["surge_users"] for line in lines) == [26, 27, 28, 29, 30]
    told = {m["message"]["token"] for m in fcm.delivered()}
    assert told == {f"tok-{uid}" for uid, seen in decided.items() if seen == ["sent"]}
