"""EMAIL_SOURCE=auth against the real Firebase Auth emulator (firebase-tools, installed by test.sh):
only a verified address is mailed, and an unreachable Auth service means retry, not silence."""
from __future__ import annotations

import uuid

import pytest

from devstack import services
from functions import clients, config, dedup, notify
from tests.conftest import PROJECT
from tests.helpers import event, pubsub_data


@pytest.fixture(scope="module")
def auth_emulator(log_dir):
    if services.firebase_cli() is None:
        pytest.skip("the Firebase CLI is not installed (./test.sh installs it with npm)")
    svc = services.start_auth_emulator(PROJECT, log_dir=log_dir)
    yield svc
    svc.stop()


@pytest.fixture
def world(env, redis_db, firestore_db, fcm, auth_emulator, monkeypatch):
    def setenv(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        config.reset()
        clients.reset()

    setenv("FIREBASE_AUTH_EMULATOR_HOST", auth_emulator.address)
    setenv("EMAIL_MODE", "fallback")
    setenv("EMAIL_SOURCE", "auth")

    class World:
        db = firestore_db
        redis = redis_db
        set = staticmethod(setenv)

        def user(self, uid: str, **fields):
            from firebase_admin import auth

            return auth.create_user(uid=uid, app=clients.firebase_app(), **fields)

        def handle(self, payload, event_id: str | None = None) -> str:
            event_id = event_id or uuid.uuid4().hex
            return notify.handle_pubsub_event(event_id, pubsub_data(payload, event_id))

        def mails(self) -> list[dict]:
            return [s.to_dict() for s in self.db.collection("mail").stream()]

    return World()


def test_the_verified_auth_address_is_mailed_not_the_profile_field(world, uid):
    world.user(uid, email=f"{uid}@example.com", email_verified=True)
    world.db.document(f"users/{uid}").set({"email": "typed-by-anyone@example.com", "language": "fr"})
    assert world.handle(event(uid)) == "emailed"
    mails = world.mails()
    assert [m["to"] for m in mails] == [f"{uid}@example.com"]
    assert "OpenAI" in mails[0]["message"]["subject"] and "Bonjour" in mails[0]["message"]["text"]


@pytest.mark.parametrize("fields,problem", [({"email_verified": False}, "unverified"), (None, "no_user"),
                                            ({"phone_number": "+15555550100"}, "missing")])
def test_no_verified_address_means_no_email(world, uid, capsys, fields, problem):
    from tests import helpers

    if fields is not None:
        if "phone_number" not in fields:
            fields = {**fields, "email": f"{uid}@example.com"}
        world.user(uid, **fields)
    assert world.handle(event(uid)) == "no_targets"
    assert world.mails() == []
    assert helpers.log_lines(capsys.readouterr().out)[-1]["email"] == problem


def test_auth_unreachable_means_retry_no_email_and_no_mark(world, uid, auth_emulator):
    world.user(uid, email=f"{uid}@example.com", email_verified=True)
    world.set("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    with pytest.raises(notify.RetryLater):
        world.handle(event(uid), event_id="evt-auth")
    assert world.redis.get(dedup.Subject(uid, "openai", "quota_exhausted").key) is None
    assert world.mails() == []
    world.set("FIREBASE_AUTH_EMULATOR_HOST", auth_emulator.address)
    assert world.handle(event(uid), event_id="evt-auth") == "emailed"
    assert len(world.mails()) == 1
