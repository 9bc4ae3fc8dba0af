"""A shadow rollout the whole way: Pub/Sub emulator -> functions-framework in DELIVERY_MODE=shadow, then a
live revision on the same endpoint. Shadow tells nobody; after the switch the same events give one push."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from devstack import services
from tests.helpers import event, log_lines


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def topic(pubsub_emulator, monkeypatch):
    """A topic with a push subscription to a fixed local port, where each revision of the notifier listens."""
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    project, port = "demo-byok-test", services.free_port()
    name = publisher.topic_path(project, f"rollout-{uuid.uuid4().hex[:6]}")
    publisher.create_topic(name=name)
    sub = subscriber.subscription_path(project, f"rollout-{uuid.uuid4().hex[:6]}")
    subscriber.create_subscription(request={"name": sub, "topic": name, "ack_deadline_seconds": 10,
                                            "push_config": {"push_endpoint": f"http://{services.HOST}:{port}/"}})
    yield publisher, name, port
    subscriber.delete_subscription(subscription=sub)
    publisher.delete_topic(topic=name)


def outcomes(worker, uid: str) -> list[str]:
    return [line["outcome"] for line in log_lines(worker.log_path.read_text(errors="replace"))
            if line.get("uid") == uid and "outcome" in line]


def test_shadow_then_live_gives_exactly_one_push_after_the_switch(service_env, topic, firestore_db, redis_db,
                                                                  fcm, uid, log_dir, tmp_path):
    publisher, name, port = topic
    firestore_db.document(f"users/{uid}").set({"email": "ada@example.com"})
    firestore_db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    payloads = [json.dumps(event(uid)).encode() for _ in range(3)]

    def run(mode: str) -> list[str]:
        env = {**service_env, "DELIVERY_MODE": mode, "EMAIL_MODE": "always"}
        worker = services.start_function("notify_byok_llm_error", env, port=port, log_dir=tmp_path / mode)
        try:
            for data in payloads:
                publisher.publish(name, data).result(timeout=30)
            wait_for(lambda: len(outcomes(worker, uid)) == 3)
            return sorted(outcomes(worker, uid))
        finally:
            worker.stop()

    assert run("shadow") == ["suppressed", "suppressed", "would_send"]
    assert fcm.delivered() == [] and list(firestore_db.collection("mail").stream()) == []
    assert not firestore_db.document(f"users/{uid}/byok_status/openai").get().exists

    assert run("live") == ["sent", "suppressed", "suppressed"]
    assert [m["message"]["token"] for m in fcm.delivered()] == [f"tok-{uid}"]
    assert len(list(firestore_db.collection("mail").stream())) == 1
    assert firestore_db.document(f"users/{uid}/byok_status/openai").get().exists
