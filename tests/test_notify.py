"""The notifier's core against real Redis, the real Firestore emulator and the local FCM server."""
from __future__ import annotations

import json
import uuid

import pytest

from functions import dedup, notify
from tests import helpers
from tests.helpers import INVALID_KEY_ERROR, QUOTA_ERROR, RATE_LIMIT_ERROR, SERVER_ERROR, event, pubsub_data

SECRET = "sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX"


@pytest.fixture
def world(env, redis_db, firestore_db, fcm):
    """Everything a notifier test touches, cleaned before it runs."""

    class World:
        redis = redis_db
        db = firestore_db
        server = fcm

        def device(self, uid: str, device: str, **fields) -> None:
            self.db.document(f"users/{uid}/fcm_tokens/{device}").set(fields)

        def handle(self, payload, event_id: str | None = None) -> str:
            event_id = event_id or uuid.uuid4().hex
            return notify.handle_pubsub_event(event_id, pubsub_data(payload, event_id))

        def keys(self) -> list[bytes]:
            return sorted(self.redis.keys("*"))

        def marks_and_leases(self) -> list[bytes]:
            """Every key but the surge count (surge.py), which stays: the user's call did fail."""
            return sorted(k for k in self.redis.keys("*") if not k.startswith(b"byok:surge:"))

        def token_doc(self, uid: str, device: str) -> dict | None:
            snap = self.db.document(f"users/{uid}/fcm_tokens/{device}").get()
            return snap.to_dict() if snap.exists else None

    return World()


def subject_key(uid, reason="quota_exhausted", provider="openai", fp=None) -> str:
    return dedup.Subject(uid, provider, reason, fp).key


def test_actionable_error_sends_one_push_to_every_device(world, uid, capsys):
    world.device(uid, "phone", token=f"tok-phone-{uid}")
    world.device(uid, "tablet", fid=f"fid-tablet-{uid}")

    assert world.handle(event(uid)) == "sent"

    delivered = world.server.delivered()
    assert sorted(m["message"].get("token") or m["message"].get("fid") for m in delivered) == \
        sorted([f"tok-phone-{uid}", f"fid-tablet-{uid}"])
    msg = delivered[0]["message"]
    assert msg["data"]["type"] == "byok_llm_error"
    assert msg["data"]["provider"] == "openai" and msg["data"]["reason"] == "quota_exhausted"
    assert msg["data"]["action_url"].startswith("https://")
    assert "OpenAI" in msg["notification"]["title"] and msg["notification"]["body"]
    assert msg["android"]["collapse_key"] == msg["apns"]["headers"]["apns-collapse-id"]
    # the mark lives for the full dedup window
    ttl = world.redis.ttl(subject_key(uid))
    assert 86000 < ttl <= 86400
    assert world.redis.get(subject_key(uid)).startswith(b"M|sent|")
    line = helpers.log_lines(capsys.readouterr().out)[-1]
    assert line["outcome"] == "sent" and line["severity"] == "INFO"
    assert line["uid"] == uid and line["provider"] == "openai" and line["reason"] == "quota_exhausted"
    assert line["targets"] == 2 and line["accepted"] == 2
    # the verdict's rule and evidence ride on the event's log lines (docs/classification.md#verdicts)
    assert (line["rule"], line["evidence"]) == ("openai.insufficient_quota", "documented")


def test_push_and_logs_never_carry_the_key_or_raw_error_text(world, uid, capsys):
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid, error=INVALID_KEY_ERROR)) == "sent"
    pushed = json.dumps(world.server.delivered())
    assert SECRET not in pushed and "Incorrect API key provided" not in pushed
    assert SECRET not in capsys.readouterr().out


def test_duplicate_costs_one_redis_command_and_nothing_else(world, uid, monkeypatch):
    monkeypatch.setenv("MARK_CACHE_SECONDS", "0")  # without the in-process cache of marks
    from functions import config
    config.reset()
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid)) == "sent"
    requests_before = world.server.state.requests
    world.redis.config_resetstat()
    # Firestore unreachable from here on: a duplicate must not need it.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    from functions import clients
    clients._instances.pop("firestore", None)

    assert world.handle(event(uid)) == "suppressed"

    stats = {k: v["calls"] for k, v in world.redis.info("commandstats").items()}
    stats.pop("cmdstat_config|resetstat", None)
    stats.pop("cmdstat_info", None)
    assert stats == {"cmdstat_set": 1}
    assert world.server.state.requests == requests_before


def test_not_actionable_errors_touch_nothing(world, uid, capsys):
    world.device(uid, "phone", token=f"tok-{uid}")
    for error in (RATE_LIMIT_ERROR, SERVER_ERROR, {"message": "timed out"}, {}):
        assert world.handle(event(uid, error=error)) == "not_actionable"
    assert world.keys() == []
    assert world.server.state.requests == 0
    lines = helpers.log_lines(capsys.readouterr().out)
    assert [line["outcome"] for line in lines] == ["not_actionable"] * 4
    assert lines[0]["status_code"] == 429 and lines[0]["error_code"] == "rate_limit_exceeded"
    assert lines[1]["rule"] == "guard.server_error" and lines[1]["evidence"] == "guard"
    assert (lines[3]["rule"], lines[3]["evidence"]) == ("none", "none")


POISON = {
    "not base64": None,
    "not JSON": b"{not json",
    "not UTF-8": b"\xff\xfe{}",
    "a JSON list": b"[1, 2]",
    "version 2": {"version": 2},
    "version true": {"version": True},
    "uid ../x": {"uid": "../x"},
    "uid a/b": {"uid": "a/b"},
    "uid ..": {"uid": ".."},
    "uid .": {"uid": "."},
    "uid __x__": {"uid": "__x__"},
    "uid empty": {"uid": ""},
    "uid too long": {"uid": "u" * 129},
    "uid number": {"uid": 42},
    "uid with newline": {"uid": "a\nb"},
    "provider uppercase": {"provider": "OpenAI"},
    "provider path": {"provider": "../openai"},
    "provider too long": {"provider": "p" * 41},
    "error missing": {"error": None},
    "error a string": {"error": "boom"},
    "status a string": {"error": {"status_code": "429"}},
    "status a bool": {"error": {"status_code": True}},
    "code a number": {"error": {"code": 5}},
    "fingerprint with space": {"key_fingerprint": "a b"},
    "model too long": {"model": "m" * 300},
    "occurred_at garbage": {"occurred_at": "yesterday"},
    "occurred_at naive": {"occurred_at": "2026-11-26T12:00:00"},
    "occurred_at number": {"occurred_at": 1700000000},
    "kind unknown": {"kind": "celebration"},
    "huge": {"error": {"message": "x" * 300_000}},
    "deeply nested": b'{"version": 1, "body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("name", list(POISON))
def test_poison_is_logged_once_and_acknowledged_without_side_effects(world, uid, capsys, name):
    world.device(uid, "phone", token=f"tok-{uid}")
    change = POISON[name]
    if change is None:
        data = pubsub_data(event(uid))
        data["message"]["data"] = "%%% not base64 " + SECRET
        outcome = notify.handle_pubsub_event("poison-1", data)
    elif isinstance(change, bytes):
        outcome = world.handle(change)
    else:
        payload = event(uid, error={**QUOTA_ERROR, "message": "key " + SECRET})
        payload.update(change)
        outcome = world.handle(payload)

    assert outcome == "invalid_event"
    assert world.keys() == []
    assert world.server.state.requests == 0
    lines = helpers.log_lines(capsys.readouterr().out)
    assert len(lines) == 1
    assert lines[0]["severity"] == "WARNING" and lines[0]["outcome"] == "invalid_event"
    assert lines[0]["problem"]
    assert SECRET not in json.dumps(lines)


@pytest.mark.parametrize("data", [None, {}, {"message": None}, {"message": {}}, "not json", b"\x00"])
def test_cloudevent_without_a_pubsub_message_is_acknowledged(world, data):
    assert notify.handle_pubsub_event("bad-envelope", data) == "invalid_event"
    assert world.keys() == []


def test_unknown_top_level_fields_are_ignored(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid, future_field={"x": 1}, kind="error")) == "sent"


def test_event_older_than_max_age_is_dropped(world, uid, monkeypatch):
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid, occurred_at=helpers.now_rfc3339(-86400 - 60))) == "expired"
    assert world.keys() == [] and world.server.state.requests == 0
    # within the age limit it goes through
    assert world.handle(event(uid, occurred_at=helpers.now_rfc3339(-3600))) == "sent"


def test_missing_occurred_at_falls_back_to_publish_time(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    payload = event(uid)
    del payload["occurred_at"]
    assert world.handle(payload) == "sent"


def test_each_reason_and_each_key_is_its_own_subject(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid)) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR)) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR)) == "suppressed"
    # the user replaced the broken key with another broken key: they hear about the new one
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:new")) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:new")) == "suppressed"
    assert world.handle(event(uid, provider="anthropic", error={
        "status_code": 401, "body": {"type": "error", "error": {"type": "authentication_error",
                                                               "message": "invalid x-api-key"}}})) == "sent"
    assert len(world.server.delivered()) == 4


def test_user_without_devices_gets_a_short_mark(world, uid, capsys):
    assert world.handle(event(uid)) == "no_targets"
    ttl = world.redis.ttl(subject_key(uid))
    assert 3500 < ttl <= 3600
    # a flood for a user with no devices does not reread Firestore
    assert world.handle(event(uid)) == "suppressed"
    outcomes = [line["outcome"] for line in helpers.log_lines(capsys.readouterr().out)]
    assert outcomes == ["no_targets", "suppressed"]


def test_invalid_marked_devices_are_skipped(world, uid):
    world.device(uid, "old", token=f"dead-{uid}", invalid=True, invalid_token=f"dead-{uid}")
    assert world.handle(event(uid)) == "no_targets"
    assert world.server.state.requests == 0


@pytest.mark.parametrize("prefix,reason", [("dead", "UNREGISTERED"), ("mismatch", "SENDER_ID_MISMATCH"),
                                           ("bad", "INVALID_ARGUMENT")])
def test_dead_tokens_are_marked_and_the_live_one_still_gets_the_push(world, uid, prefix, reason):
    world.device(uid, "live", token=f"tok-{uid}")
    world.device(uid, "gone", token=f"{prefix}-{uid}")
    assert world.handle(event(uid)) == "sent"
    gone = world.token_doc(uid, "gone")
    assert gone["invalid"] is True and gone["invalid_token"] == f"{prefix}-{uid}"
    assert gone["invalid_reason"] == reason and gone["invalid_at"] is not None
    assert "invalid" not in world.token_doc(uid, "live")


def test_every_target_dead_marks_them_and_keeps_a_short_mark(world, uid):
    world.device(uid, "a", token=f"dead-a-{uid}")
    world.device(uid, "b", fid=f"dead-b-{uid}")
    world.db.document(f"users/{uid}").set({"fcm_token": f"dead-legacy-{uid}", "name": "Ada"})
    assert world.handle(event(uid)) == "no_targets"
    assert world.token_doc(uid, "a")["invalid_reason"] == "UNREGISTERED"
    assert world.token_doc(uid, "b")["invalid_token"] == f"dead-b-{uid}"
    user = world.db.document(f"users/{uid}").get().to_dict()
    assert "fcm_token" not in user and user["name"] == "Ada"
    assert user["fcm_token_invalid_reason"] == "UNREGISTERED"
    assert 3500 < world.redis.ttl(subject_key(uid)) <= 3600


def test_legacy_field_is_a_target_and_duplicates_are_sent_once(world, uid):
    world.db.document(f"users/{uid}").set({"fcm_token": f"tok-{uid}"})
    world.device(uid, "same", token=f"tok-{uid}")  # the same token stored in both places
    assert world.handle(event(uid)) == "sent"
    assert len(world.server.delivered()) == 1


def test_reregistered_device_is_not_marked(world, uid):
    """A token replaced between the read and the mark keeps its document unmarked."""
    from functions import tokens

    world.device(uid, "phone", token=f"dead-{uid}")
    targets = tokens.read_targets(world.db, uid)
    world.device(uid, "phone", token=f"fresh-{uid}")  # the app re-registered meanwhile
    assert tokens.mark_invalid(world.db, targets[0], "UNREGISTERED") == [("phone", "changed")]
    assert world.token_doc(uid, "phone") == {"token": f"fresh-{uid}"}


@pytest.mark.slow
def test_transient_fcm_failure_releases_the_lease_and_the_retry_delivers(world, uid, capsys):
    world.device(uid, "phone", token=f"tok-{uid}")
    world.server.state.fail_next = 10  # FCM answers 503 to the first send and all of its retries
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-1")
    assert world.marks_and_leases() == []  # lease released: nothing silences the user
    assert world.server.delivered() == []
    world.server.state.fail_next = 0  # FCM is back; Pub/Sub redelivers the same event
    assert world.handle(event(uid), event_id="evt-1") == "sent"
    assert len(world.server.delivered()) == 1
    outcomes = [line["outcome"] for line in helpers.log_lines(capsys.readouterr().out)]
    assert outcomes == ["retry", "sent"]


def test_fcm_project_auth_error_never_marks_the_token_and_retries(world, uid):
    world.device(uid, "iphone", token=f"apns-{uid}")
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid))
    assert "invalid" not in world.token_doc(uid, "iphone")
    assert world.marks_and_leases() == []


def test_quota_from_fcm_is_transient(world, uid):
    world.device(uid, "phone", token=f"quota-{uid}")
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid))
    assert "invalid" not in world.token_doc(uid, "phone")
    assert world.marks_and_leases() == []


def test_one_accepted_device_is_enough_even_if_another_is_transient(world, uid):
    world.device(uid, "a", token=f"tok-{uid}")
    world.device(uid, "b", token=f"quota-{uid}")
    assert world.handle(event(uid)) == "sent"
    assert world.redis.get(subject_key(uid)).startswith(b"M|sent|")


def test_redis_down_means_retry_and_no_push(world, uid, monkeypatch):
    from functions import clients, config

    world.device(uid, "phone", token=f"tok-{uid}")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")
    config.reset()
    clients.reset()
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid))
    assert world.server.state.requests == 0


def test_firestore_down_releases_the_lease_and_retries(world, uid, monkeypatch):
    from functions import clients, config

    world.device(uid, "phone", token=f"tok-{uid}")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    monkeypatch.setenv("FIRESTORE_TIMEOUT_SECONDS", "1")
    config.reset()
    clients.reset()
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-fs")
    assert world.marks_and_leases() == []
    assert world.server.state.requests == 0


def test_redelivery_while_an_earlier_attempt_holds_the_lease_is_retried_not_dropped(world, uid):
    """A worker died mid-send: its lease remains. The redelivery must not be acknowledged as a duplicate."""
    world.device(uid, "phone", token=f"tok-{uid}")
    stale = dedup.lease_value("evt-dead-worker")
    world.redis.set(subject_key(uid), stale, px=120_000)
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-dead-worker")
    # another event for the same subject while the lease is held is a duplicate
    assert world.handle(event(uid), event_id="evt-other") == "suppressed"
    world.redis.delete(subject_key(uid))  # the lease expires
    assert world.handle(event(uid), event_id="evt-dead-worker") == "sent"
    assert len(world.server.delivered()) == 1


def test_64_concurrent_copies_give_exactly_one_push(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    world.device(uid, "tablet", token=f"tok2-{uid}")
    payload = event(uid)
    results = helpers.concurrently(64, lambda i: world.handle(payload, event_id=f"copy-{i}"))
    assert sorted(results) == ["sent"] + ["suppressed"] * 63
    assert len(world.server.delivered()) == 2  # one push, on each of the two devices


def test_64_concurrent_redeliveries_of_one_message_give_exactly_one_push(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    payload = event(uid)
    results = helpers.concurrently(64, lambda i: world.handle(payload, event_id="same-message"))
    assert results.count("sent") == 1
    assert set(results) <= {"sent", "retry", "suppressed"}
    # Pub/Sub redelivers the ones that asked for a retry: they find the mark
    for _ in range(results.count("retry")):
        assert world.handle(payload, event_id="same-message") == "suppressed"
    assert len(world.server.delivered()) == 1


def test_settle_after_lost_lease_does_not_overwrite_another_delivery(world, uid):
    subject = dedup.Subject(uid, "openai", "quota_exhausted")
    mine, theirs = dedup.lease_value("a"), dedup.lease_value("b")
    assert dedup.acquire(world.redis, subject, mine, 60, "a")[0] is dedup.Acquired.TAKEN
    world.redis.delete(subject.key)  # our lease lapsed
    assert dedup.acquire(world.redis, subject, theirs, 60, "b")[0] is dedup.Acquired.TAKEN
    assert dedup.settle(world.redis, subject, mine, "sent", "a", 3600) is False
    assert world.redis.get(subject.key) == theirs
    assert dedup.release(world.redis, subject, mine) is False
    assert world.redis.get(subject.key) == theirs
    # lapsed and unclaimed: our delivery did happen, so the mark is set
    world.redis.delete(subject.key)
    assert dedup.settle(world.redis, subject, mine, "sent", "a", 3600) is True
    assert world.redis.get(subject.key).startswith(b"M|sent|a|")


def test_device_reregistered_over_a_marked_document_is_live_again(world, uid):
    """An app that re-registers with a merge write leaves `invalid: true` beside its new token."""
    world.device(uid, "phone", token=f"dead-{uid}")
    assert world.handle(event(uid)) == "no_targets"
    world.db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"}, merge=True)
    world.redis.flushdb()
    dedup.MARKS.clear()  # the short window is over
    assert world.handle(event(uid)) == "sent"
    assert world.server.delivered()[-1]["message"]["token"] == f"tok-{uid}"


def test_cached_mark_answers_a_duplicate_with_no_redis_command(world, uid):
    world.device(uid, "phone", token=f"tok-{uid}")
    assert world.handle(event(uid)) == "sent"
    world.redis.config_resetstat()
    for _ in range(3):
        assert world.handle(event(uid)) == "suppressed"
    stats = {k: v["calls"] for k, v in world.redis.info("commandstats").items()}
    assert set(stats) <= {"cmdstat_config|resetstat", "cmdstat_info"}
    assert len(world.server.delivered()) == 1


def test_a_mark_seen_in_redis_is_cached_but_a_lease_never_is(world, uid):
    subject = dedup.Subject(uid, "openai", "quota_exhausted")
    other = dedup.lease_value("other-event")
    world.redis.set(subject.key, other, px=60_000)  # another instance is delivering
    assert dedup.acquire(world.redis, subject, dedup.lease_value("me"), 60, "me", 30)[0] is dedup.Acquired.DUPLICATE
    assert not dedup.MARKS.fresh(subject.key)
    world.redis.delete(subject.key)  # it failed and released the lease: we must see that at once
    mine = dedup.lease_value("me")
    assert dedup.acquire(world.redis, subject, mine, 60, "me", 30)[0] is dedup.Acquired.TAKEN
    assert dedup.settle(world.redis, subject, mine, "sent", "me", 3600, 30)
    assert dedup.MARKS.fresh(subject.key)
    dedup.MARKS.clear()
    assert dedup.acquire(world.redis, subject, dedup.lease_value("x"), 60, "x", 30)[0] is dedup.Acquired.DUPLICATE
    assert dedup.MARKS.fresh(subject.key)  # read back from Redis and cached


def test_a_cached_mark_never_outlives_the_mark_itself(world, uid):
    subject = dedup.Subject(uid, "openai", "quota_exhausted")
    mark = dedup.mark_value("no_targets", "e", 2)  # a two-second mark (whole seconds: 1 to 2 s left)
    dedup.MARKS.remember(subject.key, mark, 3600)
    assert dedup.MARKS.fresh(subject.key)
    import time as _time
    _time.sleep(2.05)
    assert not dedup.MARKS.fresh(subject.key)
