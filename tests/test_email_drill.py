"""Fault drill for the email channel: Firestore stops answering between the read and the mail write.

A dedicated Firestore emulator is frozen (SIGSTOP on its process group) right after the notifier's
real read of the user, so the real `create` of the mail document times out; everything else is real.
The lease must be released (no mark: nothing silences the user), the event retried, and the retry
must leave exactly one mail document, whether or not the frozen server had taken the first write.
"""
from __future__ import annotations

import os
import signal

import pytest

from devstack import services
from functions import clients, config, dedup, notify, tokens
from tests.conftest import PROJECT
from tests.helpers import event, pubsub_data


@pytest.fixture
def frozen_firestore(env, redis_db, fcm, log_dir, monkeypatch):
    svc = services.start_firestore_emulator(log_dir=log_dir)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", svc.address)
    monkeypatch.setenv("FIRESTORE_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("EMAIL_MODE", "fallback")
    config.reset()
    clients.reset()
    try:
        yield svc
    finally:
        try:
            os.killpg(svc.proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        clients.reset()
        svc.stop()


def test_a_mail_write_that_times_out_releases_the_lease_and_the_retry_writes_one(frozen_firestore, redis_db,
                                                                                 uid, monkeypatch, capsys):
    from google.cloud import firestore

    db = firestore.Client(project=PROJECT)
    db.document(f"users/{uid}").set({"email": "ada@example.com"})
    real_read = tokens.read_recipient

    def read_then_freeze(*args, **kwargs):
        found = real_read(*args, **kwargs)
        os.killpg(frozen_firestore.proc.pid, signal.SIGSTOP)
        return found

    monkeypatch.setattr(tokens, "read_recipient", read_then_freeze)
    with pytest.raises(notify.RetryLater, match="email_write_failed"):
        notify.handle_pubsub_event("evt-mail", pubsub_data(event(uid), "evt-mail"))
    assert redis_db.get(dedup.Subject(uid, "openai", "quota_exhausted").key) is None  # released, no mark

    os.killpg(frozen_firestore.proc.pid, signal.SIGCONT)
    monkeypatch.setattr(tokens, "read_recipient", real_read)
    assert notify.handle_pubsub_event("evt-mail", pubsub_data(event(uid), "evt-mail")) == "emailed"
    assert [d.to_dict()["to"] for d in db.collection("mail").stream()] == ["ada@example.com"]
    assert redis_db.get(dedup.Subject(uid, "openai", "quota_exhausted").key).startswith(b"M|emailed|")
    db.close()
