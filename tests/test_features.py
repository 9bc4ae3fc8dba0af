"""What users of alerting ask for: in-app status, recovery, language, mute, reminders, deep links.

Against real Redis, the Firestore emulator and the local FCM server, like the notifier tests.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from functions import dedup, notify
from tests import helpers
from tests.helpers import INVALID_KEY_ERROR, event


@pytest.fixture
def world(env, redis_db, firestore_db, fcm, monkeypatch):
    notify._DUPLICATES.__init__()  # no counts left over from another test

    class World(helpers.NotifierWorld):
        def device(self, uid: str, device: str = "phone", **fields) -> None:
            self.db.document(f"users/{uid}/fcm_tokens/{device}").set(fields or {"token": f"tok-{uid}-{device}"})

        def last_push(self) -> dict:
            return self.server.delivered()[-1]["message"]

    return World(redis_db, firestore_db, fcm, monkeypatch)


def recovered(uid: str, provider: str = "openai") -> dict:
    doc = event(uid, provider=provider, kind="recovered")
    del doc["error"]
    return doc


def test_status_document_tells_the_app_what_is_wrong(world, uid):
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    status = world.status(uid)
    assert status["reason"] == "quota_exhausted" and status["provider"] == "openai"
    assert status["count"] == 1 and status["muted"] is False
    assert status["first_seen"] == status["last_seen"] == status["notified_at"]


def test_duplicates_add_no_firestore_write_per_event_but_are_counted_in_batches(world, uid):
    world.setenv("STATUS_FLUSH_SECONDS", "1")
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    for _ in range(5):
        assert world.handle(event(uid)) == "suppressed"
    assert world.status(uid)["count"] == 1  # nothing written for those five yet
    time.sleep(1.1)
    assert world.handle(event(uid)) == "suppressed"  # the interval passed: one write with all six
    assert world.status(uid)["count"] == 7


def test_recovery_clears_status_and_every_mark_so_a_new_failure_is_told_at_once(world, uid):
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:k2")) == "sent"
    assert world.handle(event(uid)) == "suppressed"
    world.db.document(f"users/{uid}/byok_status/anthropic").set({"reason": "invalid_key"})

    assert world.handle(recovered(uid)) == "recovered"

    assert world.status(uid) is None
    assert world.status(uid, "anthropic") == {"reason": "invalid_key"}  # other providers untouched
    assert world.redis.keys(f"byok:{{openai:{uid}}}*") == []
    assert world.handle(event(uid)) == "sent"
    assert len(world.server.delivered()) == 3


def test_recovery_with_nothing_to_clear_costs_one_redis_command(world, uid, monkeypatch):
    from functions import clients

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # must not be needed
    clients._instances.pop("firestore", None)
    assert world.handle(recovered(f"{uid}-warm")) == "recovered"  # the notifier's connection is set up
    world.redis.config_resetstat()
    assert world.handle(recovered(uid)) == "recovered"
    stats = {k: v["calls"] for k, v in world.redis.info("commandstats").items()}
    assert stats.get("cmdstat_exists") == 1
    assert sum(v for k, v in stats.items() if k not in ("cmdstat_config|resetstat", "cmdstat_info")) == 1


def test_push_follows_the_users_language(world, uid):
    world.device(uid)
    world.db.document(f"users/{uid}").set({"language": "es"})
    assert world.handle(event(uid)) == "sent"
    spanish = world.last_push()["notification"]
    other = f"{uid}-en"
    world.device(other)
    assert world.handle(event(other)) == "sent"
    english = world.last_push()["notification"]
    assert spanish["title"] != english["title"] and "OpenAI" in spanish["title"] + spanish["body"]


def test_language_field_is_configurable(world, uid):
    world.setenv("USER_LANGUAGE_FIELD", "locale")
    world.device(uid)
    world.db.document(f"users/{uid}").set({"locale": "de", "language": "en"})
    assert world.handle(event(uid)) == "sent"
    from functions.messages import render

    assert world.last_push()["notification"]["title"] == render("openai", "quota_exhausted", "de").title


def test_muted_user_gets_no_push_but_the_status_is_updated(world, uid):
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_alerts_muted": True})
    assert world.handle(event(uid)) == "muted"
    assert world.server.state.requests == 0
    status = world.status(uid)
    assert status["muted"] is True and status["reason"] == "quota_exhausted" and status["notified_at"] is None
    assert world.handle(event(uid)) == "suppressed"  # a flood does not reread the preference


def test_a_failure_of_a_key_the_user_replaced_tells_no_one(world, uid, capsys):
    """In-flight calls with the old key fail after the user saved a new one (or the backend sends a stale key): the
    profile names the current key's fingerprint, the event's differs, so no push, no email, no banner."""
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"openai": "hmac:new"}})
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:old")) == "superseded_key"
    assert world.server.state.requests == 0 and world.status(uid) is None
    line = helpers.log_lines(capsys.readouterr().out)[-1]
    assert (line["outcome"], line["severity"], line["reason"]) == ("superseded_key", "WARNING", "invalid_key")
    # the old key's later failures are duplicates for the window: one Redis command, no Firestore read
    old = dedup.Subject(uid, "openai", "invalid_key", "hmac:old").key
    assert world.redis.get(old).startswith(b"M|superseded|") and world.redis.ttl(old) > 86000
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:old")) == "suppressed"
    # the key the user has now is told about at once
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:new")) == "sent"
    assert world.status(uid)["reason"] == "invalid_key"


@pytest.mark.parametrize("profile,fingerprint", [
    ({}, "hmac:any"),                                                   # nothing recorded: the key may be the user's
    ({"byok_key_fingerprints": {"anthropic": "hmac:a"}}, "hmac:any"),  # recorded for another provider only
    ({"byok_key_fingerprints": {"openai": ["hmac:one", "hmac:two"]}}, "hmac:two"),   # one of the user's keys
    ({"byok_key_fingerprints": {"openai": "hmac:new"}}, None),          # an event without a fingerprint
    ({"byok_key_fingerprints": {"openai": ""}}, "hmac:any"),            # an empty record says nothing
    ({"byok_key_fingerprints": "hmac:new"}, "hmac:any"),                # not a map: ignored
], ids=["none-recorded", "other-provider", "one-of-several", "event-without", "empty-record", "not-a-map"])
def test_the_current_key_check_never_silences_what_it_cannot_tell(world, uid, profile, fingerprint):
    world.device(uid)
    if profile:
        world.db.document(f"users/{uid}").set(profile)
    extra = {"key_fingerprint": fingerprint} if fingerprint else {}
    assert world.handle(event(uid, **extra)) == "sent"


def test_the_users_key_for_another_provider_sent_to_this_one_tells_no_one(world, uid, capsys):
    """The backend sent the key the user saved for DeepSeek to OpenAI (a configuration whose calls went to the wrong
    provider, one kind of the held-out threads' false alarms): OpenAI refusing it says nothing about a key of the
    user's for OpenAI. Nothing is told; the operator sees an ERROR, since a secret went to the wrong provider."""
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"deepseek": "hmac:ds", "anthropic": "hmac:a"}})
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:ds")) == "misrouted_key"
    assert world.server.state.requests == 0 and world.status(uid) is None
    line = helpers.log_lines(capsys.readouterr().out)[-1]
    assert (line["outcome"], line["severity"], line["saved_for"]) == ("misrouted_key", "ERROR", "deepseek")
    assert "hmac:ds" not in str(line)
    subject = dedup.Subject(uid, "openai", "invalid_key", "hmac:ds").key
    assert world.redis.get(subject).startswith(b"M|misrouted|")
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:ds")) == "suppressed"
    # a key of the user's that no record names for another provider is still told about
    assert world.handle(event(uid, error=INVALID_KEY_ERROR, key_fingerprint="hmac:unknown")) == "sent"
    # with a key recorded for OpenAI too, the DeepSeek key sent there is still the misrouted one, not a stale key
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"deepseek": "hmac:ds2", "openai": "hmac:o"}})
    assert world.handle(event(uid, key_fingerprint="hmac:ds2")) == "misrouted_key"


@pytest.mark.parametrize("saved_for,provider", [
    ("openai", "openai_realtime"),        # the Realtime API takes the OpenAI key: the same credential
    ("gemini", "vertex"),                 # Vertex reads Gemini's dialect: one family, never told apart
    ("openai_compatible", "openai"),      # a generic relay slot may hold any key
    ("my_gateway", "openai"),             # a slug no table knows
    ("claude", "anthropic"),              # an alias of the same provider (the record under another name)
], ids=["realtime", "vertex", "relay-slot", "unknown-slug", "alias"])
def test_a_key_saved_under_a_related_slug_is_never_read_as_misrouted(world, uid, saved_for, provider):
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {saved_for: "hmac:k"}})
    error = INVALID_KEY_ERROR if provider != "anthropic" else {"status_code": 401, "body": {
        "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}}
    assert world.handle(event(uid, provider=provider, error=error, key_fingerprint="hmac:k")) == "sent"


def test_several_current_keys_and_the_setting(world, uid):
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"openai": ["hmac:one", "hmac:two"]},
                                           "key_hashes": {"openai": "hmac:one"}})
    assert world.handle(event(uid, key_fingerprint="hmac:three")) == "superseded_key"
    # another field name, for an app that keeps it elsewhere
    world.setenv("USER_KEY_FINGERPRINTS_FIELD", "key_hashes")
    assert world.handle(event(uid, key_fingerprint="hmac:two", error=INVALID_KEY_ERROR)) == "superseded_key"
    assert world.handle(event(uid, key_fingerprint="hmac:one", error=INVALID_KEY_ERROR)) == "sent"
    # "-" turns the check off
    world.setenv("USER_KEY_FINGERPRINTS_FIELD", "-")
    assert world.handle(event(uid, key_fingerprint="hmac:four", error=INVALID_KEY_ERROR)) == "sent"


def test_shadow_mode_reads_the_current_key_too(world, uid):
    world.setenv("DELIVERY_MODE", "shadow")
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"openai": "hmac:new"}})
    assert world.handle(event(uid, key_fingerprint="hmac:old")) == "superseded_key"
    assert world.handle(event(uid, key_fingerprint="hmac:new")) == "would_send"
    world.db.document(f"users/{uid}").set({"byok_key_fingerprints": {"openai": "hmac:new", "deepseek": "hmac:ds"}})
    assert world.handle(event(uid, provider="openrouter", key_fingerprint="hmac:ds")) == "misrouted_key"
    assert world.server.state.requests == 0


def test_mute_per_provider(world, uid):
    world.device(uid)
    world.db.document(f"users/{uid}").set({"byok_alerts_muted": ["anthropic"]})
    assert world.handle(event(uid, provider="anthropic", error={"status_code": 401, "body": {
        "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}})) == "muted"
    assert world.handle(event(uid)) == "sent"


def test_a_problem_that_persists_past_the_window_gets_a_reminder(world, uid):
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    first = world.last_push()
    assert first["data"]["reminder"] == "false"
    world.redis.delete(dedup.Subject(uid, "openai", "quota_exhausted").key)  # the dedup window ends
    dedup.MARKS.clear()
    assert world.handle(event(uid)) == "sent"
    reminder = world.last_push()
    assert reminder["data"]["reminder"] == "true"
    assert reminder["notification"]["title"] != first["notification"]["title"]
    began = world.status(uid)["first_seen"]
    assert datetime.fromisoformat(reminder["data"]["since"]) == began
    assert world.status(uid)["count"] == 2


def test_an_old_forgotten_problem_is_told_as_new(world, uid):
    world.device(uid)
    long_ago = datetime.now(timezone.utc) - timedelta(days=10)
    world.db.document(f"users/{uid}/byok_status/openai").set({
        "reason": "quota_exhausted", "first_seen": long_ago, "last_seen": long_ago, "notified_at": long_ago,
        "count": 40})
    assert world.handle(event(uid)) == "sent"
    assert world.last_push()["data"]["reminder"] == "false"
    status = world.status(uid)
    assert status["count"] == 1 and status["first_seen"] > long_ago


def test_a_different_reason_is_a_new_problem(world, uid):
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR)) == "sent"
    assert world.last_push()["data"]["reminder"] == "false"
    assert world.status(uid)["reason"] == "invalid_key"


def test_deep_link_and_collapse_ids(world, uid):
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    message = world.last_push()
    assert message["data"]["deep_link"] == "app://settings/ai-keys?provider=openai&reason=quota_exhausted"
    assert message["android"]["collapse_key"] == "byok_openai_quota_exhausted"
    assert message["apns"]["headers"]["apns-collapse-id"] == "byok_openai_quota_exhausted"
    other = f"{uid}-2"
    world.device(other)
    world.setenv("DEEP_LINK_TEMPLATE", "myapp://keys/{provider}")
    assert world.handle(event(other)) == "sent"
    assert world.last_push()["data"]["deep_link"] == "myapp://keys/openai"


def test_features_can_be_switched_off(world, uid):
    world.setenv("STATUS_COLLECTION", "")
    world.setenv("REMINDERS", "false")
    world.setenv("DEEP_LINK_TEMPLATE", "")
    world.device(uid)
    assert world.handle(event(uid)) == "sent"
    world.redis.delete(dedup.Subject(uid, "openai", "quota_exhausted").key)
    dedup.MARKS.clear()
    assert world.handle(event(uid)) == "sent"
    assert world.status(uid) is None
    assert world.last_push()["data"]["reminder"] == "false"
    assert "deep_link" not in world.last_push()["data"]
