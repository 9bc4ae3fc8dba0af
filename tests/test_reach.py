"""Reaching the user (issue 14) and shadow mode (issue 15.1), on real Redis, the Firestore emulator
and the local FCM server: the FCM request as the server received it, the Trigger Email document,
and a shadow run that delivers nothing."""
from __future__ import annotations

import json

import pytest

from functions import clients, dedup, notify
from functions.messages import render
from tests import helpers
from tests.helpers import INVALID_KEY_ERROR, event

SECRET = "sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX"
SECRET_FRAGMENTS = (SECRET, SECRET[8:20], "Incorrect API key provided", "abcdEFGH1234")


@pytest.fixture
def world(env, redis_db, firestore_db, fcm, monkeypatch):
    class World(helpers.NotifierWorld):
        def mails(self, collection: str = "mail") -> list[dict]:
            return [s.to_dict() | {"_id": s.id} for s in self.db.collection(collection).stream()]

    return World(redis_db, firestore_db, fcm, monkeypatch, env)


# --- 1. the push as omi's app needs it ---------------------------------------------------------------

def test_omi_settings_push_as_fcm_received_it(world, uid):
    """omi's device documents: users/{uid}/fcm_tokens/{platform}_{deviceHash} = {token, time_zone, created_at}."""
    world.setenv("PUSH_LINK_FIELD", "navigate_to")
    world.setenv("DEEP_LINK_TEMPLATE", "/settings")
    from datetime import datetime, timezone

    for device in ("android_9f86d081884c7d65", "ios_2c26b46b68ffc68f"):
        world.db.document(f"users/{uid}/fcm_tokens/{device}").set(
            {"token": f"tok-{device}-{uid}", "time_zone": "Europe/Berlin",
             "created_at": datetime.now(timezone.utc)})

    assert world.handle(event(uid)) == "sent"

    received = world.server.delivered()
    assert sorted(m["message"]["token"] for m in received) == \
        sorted(f"tok-{d}-{uid}" for d in ("android_9f86d081884c7d65", "ios_2c26b46b68ffc68f"))
    for entry in received:
        message = entry["message"]
        assert "fid" not in message
        android, apns, data = message["android"], message["apns"], message["data"]
        assert android["collapse_key"] == "byok_openai_quota_exhausted"
        assert android["notification"]["tag"] == "byok_openai_quota_exhausted"  # replaces a shown one
        assert android["priority"] == "high"
        assert apns["headers"]["apns-collapse-id"] == "byok_openai_quota_exhausted"
        assert apns["payload"]["aps"]["thread-id"] == "byok_openai"
        assert data["navigate_to"] == "/settings" and "deep_link" not in data
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
        assert data["type"] == "byok_llm_error" and data["reminder"] == "false"
        assert message["notification"]["title"] == render("openai", "quota_exhausted").title


def test_each_subject_has_its_own_tag_and_collapse_id(world, uid):
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    assert world.handle(event(uid)) == "sent"
    assert world.handle(event(uid, error=INVALID_KEY_ERROR)) == "sent"
    tags = [m["message"]["android"]["notification"]["tag"] for m in world.server.delivered()]
    assert tags == ["byok_openai_quota_exhausted", "byok_openai_invalid_key"]


def test_a_data_value_that_is_not_a_string_is_refused_before_any_request(env, fcm):
    from functions.channels import push
    from functions.tokens import Target

    with pytest.raises(TypeError, match="reminder"):
        push.send(clients.firebase_app(), [Target("tok-1", "token")], "t", "b", {"reminder": True}, "c")
    assert fcm.state.requests == 0


# --- 2. email -----------------------------------------------------------------------------------------

def test_twenty_copies_for_a_user_without_devices_write_exactly_one_email(world, uid, capsys):
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com", "language": "de"})
    payload = event(uid, error=INVALID_KEY_ERROR)

    results = helpers.concurrently(20, lambda i: world.handle(payload, event_id=f"copy-{i}"))

    assert sorted(results) == ["emailed"] + ["suppressed"] * 19
    mails = world.mails()
    assert len(mails) == 1
    mail = mails[0]
    german = render("openai", "invalid_key", "de")
    assert mail["to"] == "ada@example.com"
    assert mail["message"]["subject"] == german.title
    assert german.body in mail["message"]["text"] and "Hallo" in mail["message"]["text"]
    assert german.action_url in mail["message"]["text"]
    assert f'href="{german.action_url}"' in mail["message"]["html"]
    blob = json.dumps(mail, default=str)
    assert not any(fragment in blob for fragment in SECRET_FRAGMENTS)
    assert world.server.state.requests == 0
    assert world.redis.get(dedup.Subject(uid, "openai", "invalid_key").key).startswith(b"M|emailed|")
    assert world.status(uid)["notified_at"] is not None
    lines = [line for line in helpers.log_lines(capsys.readouterr().out) if line.get("outcome") == "emailed"]
    assert len(lines) == 1 and lines[0]["emails"] == 1 and lines[0]["email"] == "written"
    assert "ada@example.com" not in json.dumps(lines)  # the address is not logged


def test_email_off_writes_none(world, uid):
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    assert world.handle(event(uid)) == "no_targets"
    assert world.mails() == []


def test_a_muted_user_gets_no_email(world, uid):
    world.setenv("EMAIL_MODE", "always")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com", "byok_alerts_muted": ["openai"]})
    assert world.handle(event(uid)) == "muted"
    assert world.mails() == []


def test_firestore_down_means_retry_no_email_and_no_mark(world, uid):
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.setenv("EMAIL_MODE", "fallback")
    world.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    world.setenv("FIRESTORE_TIMEOUT_SECONDS", "1")
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-down")
    assert [k for k in world.redis.keys("*") if not k.startswith(b"byok:surge:")] == []   # the surge count stays
    world.setenv("FIRESTORE_EMULATOR_HOST", world.services["FIRESTORE_EMULATOR_HOST"])
    assert world.mails() == []
    assert world.handle(event(uid), event_id="evt-down") == "emailed"  # the retry delivers
    assert len(world.mails()) == 1


def test_a_retried_email_write_of_the_same_event_cannot_make_a_second_email(world, uid, capsys):
    """The write landed but the mark was lost (e.g. the worker died): the redelivery finds the document."""
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    assert world.handle(event(uid), event_id="evt-1") == "emailed"
    world.redis.delete(dedup.Subject(uid, "openai", "quota_exhausted").key)
    dedup.MARKS.clear()
    assert world.handle(event(uid), event_id="evt-1") == "emailed"
    assert len(world.mails()) == 1
    assert helpers.log_lines(capsys.readouterr().out)[-1]["email"] == "already_written"


def test_fallback_does_not_email_a_user_whose_device_took_the_push(world, uid):
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    assert world.handle(event(uid)) == "sent"
    assert world.mails() == []


def test_fallback_emails_when_every_device_is_dead(world, uid):
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"dead-{uid}"})
    assert world.handle(event(uid)) == "emailed"
    assert len(world.mails()) == 1
    assert world.db.document(f"users/{uid}/fcm_tokens/android_1").get().to_dict()["invalid"] is True


def test_fallback_retries_a_transient_push_failure_rather_than_email(world, uid):
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"quota-{uid}"})
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid))
    assert world.mails() == []


def test_always_pushes_and_emails_once(world, uid, capsys):
    world.setenv("EMAIL_MODE", "always")
    world.setenv("EMAIL_COLLECTION", "outbox")
    world.setenv("USER_EMAIL_FIELD", "contact")
    world.db.document(f"users/{uid}").set({"contact": "ada@example.com", "email": "other@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    results = helpers.concurrently(10, lambda i: world.handle(event(uid), event_id=f"copy-{i}"))
    assert sorted(results) == ["sent"] + ["suppressed"] * 9
    assert len(world.server.delivered()) == 1
    assert [m["to"] for m in world.mails("outbox")] == ["ada@example.com"] and world.mails() == []
    sent = [line for line in helpers.log_lines(capsys.readouterr().out) if line.get("outcome") == "sent"]
    assert sent[0]["emails"] == 1 and sent[0]["accepted"] == 1


def test_always_writes_the_email_first_and_a_push_retry_does_not_repeat_it(world, uid):
    world.setenv("EMAIL_MODE", "always")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    world.server.state.fail_next = 10  # the push fails transiently, firebase-admin's retries included
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-1")
    assert len(world.mails()) == 1
    world.server.state.fail_next = 0
    assert world.handle(event(uid), event_id="evt-1") == "sent"
    assert len(world.mails()) == 1 and len(world.server.delivered()) == 1


@pytest.mark.parametrize("profile,problem", [({}, "missing"), ({"email": "not an address"}, "missing"),
                                             ({"email": 42}, "missing")])
def test_no_usable_address_means_no_email_and_a_short_mark(world, uid, capsys, profile, problem):
    world.setenv("EMAIL_MODE", "fallback")
    world.db.document(f"users/{uid}").set(profile or {"language": "en"})
    assert world.handle(event(uid)) == "no_targets"
    assert world.mails() == []
    assert helpers.log_lines(capsys.readouterr().out)[-1]["email"] == problem


def test_the_email_html_is_escaped():
    from functions.channels import email
    from functions.messages import Notification

    note = Notification("T <b>", "Body <script>alert(1)</script> & more", 'https://x.test/?a=1&b="2"',
                        "P<i>", "en")
    doc = email.compose("a@example.com", note)
    assert "<script>" not in doc["message"]["html"] and "&lt;script&gt;" in doc["message"]["html"]
    assert 'href="https://x.test/?a=1&amp;b=&quot;2&quot;"' in doc["message"]["html"]
    assert "P&lt;i&gt;" in doc["message"]["html"]
    assert doc["message"]["text"].startswith("Hello,")


def test_every_language_has_the_email_lines():
    from functions.messages import email_texts, languages

    english = email_texts("OpenAI", "en")
    for lang in languages():
        lines = email_texts("OpenAI", lang)
        assert set(lines) == {"greeting", "action", "settings", "footer"}
        assert "OpenAI" in lines["action"]
        if lang != "en":
            assert lines["footer"] != english["footer"], lang  # translated, not inherited


# --- issue 15.1: shadow ---------------------------------------------------------------------------------

def test_shadow_delivers_nothing_then_live_sends_exactly_one_push_after_the_switch(world, uid, capsys):
    world.setenv("DELIVERY_MODE", "shadow")
    world.setenv("EMAIL_MODE", "always")
    world.db.document(f"users/{uid}").set({"email": "ada@example.com"})
    world.db.document(f"users/{uid}/fcm_tokens/android_1").set({"token": f"tok-{uid}"})
    world.db.document(f"users/{uid}/fcm_tokens/ios_1").set({"token": f"dead-{uid}"})
    events = [event(uid) for _ in range(5)]

    shadow = [world.handle(e) for e in events]
    assert shadow == ["would_send"] + ["suppressed"] * 4
    assert world.server.state.requests == 0
    assert world.mails() == [] and world.status(uid) is None
    assert "invalid" not in world.db.document(f"users/{uid}/fcm_tokens/ios_1").get().to_dict()
    line = [x for x in helpers.log_lines(capsys.readouterr().out) if x.get("outcome") == "would_send"]
    assert len(line) == 1
    assert line[0]["targets"] == 2 and line[0]["would_push"] is True and line[0]["would_email"] is True
    assert line[0]["reason"] == "quota_exhausted"

    world.setenv("DELIVERY_MODE", "live")
    dedup.MARKS.clear()  # a new revision is a new instance
    live = [world.handle(e) for e in events]
    assert live == ["sent"] + ["suppressed"] * 4
    assert [m["message"]["token"] for m in world.server.delivered()] == [f"tok-{uid}"]
    assert len(world.mails()) == 1


def test_shadow_keys_share_the_users_slot_and_a_recovery_clears_them(world, uid):
    world.setenv("DELIVERY_MODE", "shadow")
    assert world.handle(event(uid)) == "would_send"
    shadow_key = dedup.Subject(uid, "openai", "quota_exhausted", shadow=True).key
    live_key = dedup.Subject(uid, "openai", "quota_exhausted").key
    assert shadow_key != live_key and shadow_key.split("}")[0] == live_key.split("}")[0]
    assert world.redis.exists(shadow_key) and not world.redis.exists(live_key)
    assert world.handle(event(uid, kind="recovered")) == "recovered"
    assert not world.redis.exists(shadow_key)


def test_shadow_leaves_an_existing_status_alone_duplicates_and_recovery_included(world, uid):
    """A status written by an earlier live run: shadow neither counts duplicates into it nor deletes it."""
    world.db.document(f"users/{uid}/byok_status/openai").set({"provider": "openai", "reason": "quota_exhausted",
                                                               "count": 7})
    world.setenv("DELIVERY_MODE", "shadow")
    world.setenv("STATUS_FLUSH_SECONDS", "1")
    assert [world.handle(event(uid)) for _ in range(3)] == ["would_send", "suppressed", "suppressed"]
    assert notify._DUPLICATES.take(uid, "openai") == 0  # nothing pending a write either
    assert world.handle(event(uid, kind="recovered")) == "recovered"
    assert world.status(uid)["count"] == 7
    assert not world.redis.exists(dedup.Subject(uid, "openai", "quota_exhausted", shadow=True).key)
