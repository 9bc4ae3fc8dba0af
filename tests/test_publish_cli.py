"""`python -m functions publish`: flags or a file -> contract check -> the Pub/Sub emulator; message id out.

Runs the real command (through the `python -m functions` dispatcher) against the session's Pub/Sub
emulator and reads back what arrived with a pull subscription.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from functions.event import parse_event
from tests.conftest import PROJECT

ROOT = Path(__file__).resolve().parent.parent


def publish(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("PUBSUB_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")}
    return subprocess.run([sys.executable, "-m", "functions", "publish", *args], cwd=ROOT,
                          env={**base, **(env or {})}, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def topic(pubsub_emulator, monkeypatch):
    """A fresh topic with a pull subscription, on the emulator; yields (topic id, env, pull()).

    An empty pull waits ~20 s on the emulator, so "nothing was published" is checked by publishing a
    sentinel and finding it alone: `pull(sentinel=True) == []`."""
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    name = f"errors-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(PROJECT, name)
    sub_path = subscriber.subscription_path(PROJECT, name)
    publisher.create_topic(request={"name": topic_path})
    subscriber.create_subscription(request={"name": sub_path, "topic": topic_path})

    def pull(sentinel: bool = False) -> list:
        if sentinel:
            publisher.publish(topic_path, b"sentinel", sentinel="1").result(timeout=20)
        received = subscriber.pull(request={"subscription": sub_path, "max_messages": 10}, timeout=20)
        if received.received_messages:
            subscriber.acknowledge(request={"subscription": sub_path,
                                            "ack_ids": [m.ack_id for m in received.received_messages]})
        messages = [m.message for m in received.received_messages]
        if sentinel:
            assert any(m.attributes.get("sentinel") == "1" for m in messages)
            messages = [m for m in messages if m.attributes.get("sentinel") != "1"]
        return messages

    env = {"PUBSUB_EMULATOR_HOST": pubsub_emulator.address, "GOOGLE_CLOUD_PROJECT": PROJECT}
    yield name, env, pull
    subscriber.close()
    publisher.stop()


def test_flags_publish_one_valid_event_and_print_its_message_id(topic):
    name, env, pull = topic
    proc = publish("--uid", "u-flags", "--provider", "openai", "--status", "429", "--code", "insufficient_quota",
                   "--type", "RateLimitError", "--message", "You exceeded your current quota",
                   "--fingerprint", "fp:abc123", "--feature", "chat", "--model", "gpt-4o",
                   "--body", '{"error": {"code": "insufficient_quota"}}', "--topic", name, env=env)
    assert proc.returncode == 0, proc.stderr
    message_id = proc.stdout.strip()
    (message,) = pull()
    assert message.message_id == message_id
    event = json.loads(message.data)
    assert event["version"] == 1 and event["uid"] == "u-flags" and event["provider"] == "openai"
    assert event["error"] == {"status_code": 429, "type": "RateLimitError", "code": "insufficient_quota",
                              "message": "You exceeded your current quota",
                              "body": {"error": {"code": "insufficient_quota"}}}
    assert (event["key_fingerprint"], event["feature"], event["model"]) == ("fp:abc123", "chat", "gpt-4o")
    assert dict(message.attributes) == {"version": "1", "kind": "error", "provider": "openai",
                                        "status_code": "429", "code": "insufficient_quota"}
    parse_event(message_id, message.data)  # what the notifier accepts


@pytest.mark.parametrize("from_stdin", [False, True])
def test_a_json_file_is_published_as_is(topic, tmp_path, from_stdin):
    name, env, pull = topic
    doc = {"version": 1, "uid": "u-file", "provider": "anthropic", "occurred_at": "2030-01-01T00:00:00Z",
           "error": {"status_code": 400, "message": "Your credit balance is too low"}, "future_field": [1, 2]}
    if from_stdin:
        proc = publish("--file", "-", "--topic", name, env=env, stdin=json.dumps(doc))
    else:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(doc))
        proc = publish("--file", str(path), "--topic", name, env=env)
    assert proc.returncode == 0, proc.stderr
    (message,) = pull()
    assert json.loads(message.data) == doc  # unknown fields kept: the contract ignores them
    assert message.message_id == proc.stdout.strip()


@pytest.mark.parametrize("args, problem", [
    (["--uid", "../x", "--provider", "openai"], "uid must be a Firestore document id"),
    (["--uid", "a/b", "--provider", "openai"], "uid must be a Firestore document id"),
    (["--uid", "u1", "--provider", "OpenAI!"], "provider must match"),
    (["--uid", "u1", "--provider", "openai", "--status", "5000"], "status_code must be an integer from 0 to 4999"),
    (["--uid", "u1", "--provider", "openai", "--fingerprint", "has space"], "key_fingerprint must be"),
    (["--uid", "u1", "--provider", "openai", "--occurred-at", "yesterday"], "occurred_at is not an RFC 3339"),
    (["--uid", "u1", "--provider", "openai", "--body", "{not json"], "--body is not JSON"),
])
def test_an_event_that_breaks_the_contract_is_refused_before_publishing(topic, args, problem):
    name, env, pull = topic
    proc = publish(*args, "--topic", name, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: the event breaks contract v1: ") and problem in proc.stderr
    assert proc.stdout == ""
    assert pull(sentinel=True) == []


def test_a_file_that_is_not_an_event_is_refused(topic, tmp_path):
    name, env, pull = topic
    bad_json, not_object, no_version = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    bad_json.write_text("{")
    not_object.write_text("[1]")
    no_version.write_text(json.dumps({"uid": "u", "provider": "openai", "error": {}}))
    for path, problem in ((bad_json, "is not JSON"), (not_object, "must be a JSON object"),
                          (no_version, "version must be 1"), (tmp_path / "missing.json", "cannot read")):
        proc = publish("--file", str(path), "--topic", name, env=env)
        assert proc.returncode == 2 and problem in proc.stderr, (path, proc.stderr)
    assert pull(sentinel=True) == []


def test_usage_errors(topic):
    name, env, _ = topic
    both = publish("--file", "x.json", "--uid", "u1", "--topic", name, env=env)
    assert both.returncode == 2 and "--file cannot be combined with event flags: --uid" in both.stderr
    neither = publish("--topic", name, env=env)
    assert neither.returncode == 2 and "give --uid and --provider" in neither.stderr
    no_project = publish("--uid", "u1", "--provider", "openai", env={"PUBSUB_EMULATOR_HOST": env["PUBSUB_EMULATOR_HOST"]})
    assert no_project.returncode == 2 and "no project" in no_project.stderr


def test_a_missing_topic_says_what_to_do(topic):
    _, env, _ = topic
    proc = publish("--uid", "u1", "--provider", "openai", "--status", "401", "--topic", "no-such-topic",
                   "--timeout", "10", env=env)
    assert proc.returncode == 1
    assert "projects/demo-byok-test/topics/no-such-topic" in proc.stderr and "NotFound" in proc.stderr
    assert "./dev.sh creates it" in proc.stderr


def test_dry_run_prints_the_validated_event_and_publishes_nothing(topic):
    name, env, pull = topic
    proc = publish("--uid", "u1", "--provider", "gemini", "--status", "400", "--code", "API_KEY_INVALID",
                   "--topic", name, "--dry-run", env=env)
    assert proc.returncode == 0, proc.stderr
    event = json.loads(proc.stdout)
    assert event["error"] == {"status_code": 400, "code": "API_KEY_INVALID"}
    assert event["occurred_at"].endswith("Z")
    assert pull(sentinel=True) == []


def test_recovered_publishes_a_recovery_without_an_error(topic):
    name, env, pull = topic
    proc = publish("--uid", "u-rec", "--provider", "openai", "--recovered", "--topic", name, env=env)
    assert proc.returncode == 0, proc.stderr
    (message,) = pull()
    event = json.loads(message.data)
    assert event["kind"] == "recovered" and "error" not in event
    assert message.attributes["kind"] == "recovered"
    assert parse_event(message.message_id, message.data).kind == "recovered"
