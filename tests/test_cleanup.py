"""cleanup_invalid_fcm_tokens: the deletion rule, contract tests through functions-framework, and end to end.

Contract tests POST production-shaped events (binary CloudEvent, application/protobuf, the Firestore
extension attributes) whose DocumentEventData is built from documents read back from the real emulator
(their real update times), to a functions-framework process serving main.py. End-to-end tests write
through the emulator, which fires the registered Eventarc trigger into devstack/trigger_adapter.py,
which forwards to that same process.

Everything here runs in project PROJECT, the only one with a trigger registered, so other test modules'
writes (project demo-byok-test) never reach this function.
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest

from devstack import services
from devstack.trigger_adapter import TriggerAdapter, register_trigger

PROJECT = "demo-byok-cleanup"
TRIGGER_ID = "cleanup_invalid_fcm_tokens"
WRITTEN = "google.cloud.firestore.document.v1.written"


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def db(firestore_emulator):
    """A Firestore client for PROJECT on the emulator (documents use fresh uids, never a clear:
    clearing would fire a delete event per document through the trigger)."""
    from google.cloud import firestore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.address)
        client = firestore.Client(project=PROJECT)
    yield client
    client.close()


def function_logs(function: services.Service, event_id: str | None = None) -> list[dict]:
    """The function's JSON log lines (its stdout), optionally only those of one event."""
    lines = []
    for raw in function.log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and (event_id is None or entry.get("event_id") == event_id):
            lines.append(entry)
    return lines


@pytest.fixture(scope="module")
def function(service_env, tmp_path_factory):
    env = {**service_env, "GOOGLE_CLOUD_PROJECT": PROJECT}
    env.pop("REDIS_URL", None)  # the cleanup function must start without Redis configuration
    svc = services.start_function(TRIGGER_ID, env, log_dir=tmp_path_factory.mktemp("cleanup-ff"))
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def adapter(function, firestore_emulator, trigger_port):
    """The emulator's trigger for PROJECT, delivered through the adapter to the function process."""
    adapter = TriggerAdapter(function.url, port=trigger_port).start()
    register_trigger(firestore_emulator.address, PROJECT, TRIGGER_ID)
    yield adapter
    adapter.stop()


# -- helpers --------------------------------------------------------------------------------------

def new_path(uid: str | None = None, device: str | None = None) -> str:
    return f"users/{uid or 'u-' + uuid.uuid4().hex[:10]}/fcm_tokens/{device or 'd-' + uuid.uuid4().hex[:8]}"


def mark(db, path: str, value: str, reason: str = "UNREGISTERED"):
    """What the notifier writes on a dead token (functions/tokens.py)."""
    from google.cloud import firestore

    return db.document(path).update({"invalid": True, "invalid_token": value, "invalid_reason": reason,
                                     "invalid_at": firestore.SERVER_TIMESTAMP})


def read_event_document(emulator: str, path: str):
    """The emulator's stored document (REST, proto3 JSON) as a google-events Document."""
    from google.events.cloud.firestore import Document

    url = f"http://{emulator}/v1/projects/{PROJECT}/databases/(default)/documents/{path}"
    req = urllib.request.Request(url, headers={"Authorization": "Bearer owner"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return Document.from_json(resp.read(), ignore_unknown_fields=True)


def event_bytes(value=None, old_value=None) -> bytes:
    from google.events.cloud.firestore import DocumentEventData

    kwargs = {k: v for k, v in (("value", value), ("old_value", old_value)) if v is not None}
    return DocumentEventData.serialize(DocumentEventData(**kwargs))


def production_headers(document: str, event_id: str, project: str = PROJECT) -> dict[str, str]:
    """The binary-mode CloudEvent headers Eventarc sends for a Firestore document event."""
    return {
        "ce-specversion": "1.0",
        "ce-type": WRITTEN,
        "ce-source": f"//firestore.googleapis.com/projects/{project}/databases/(default)",
        "ce-id": event_id,
        "ce-subject": f"documents/{document}",
        "ce-time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "ce-dataschema": "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/"
                         "cloud/firestore/v1/data.proto",
        "ce-location": "nam5",
        "ce-project": project,
        "ce-database": "(default)",
        "ce-namespace": "(default)",
        "ce-document": document,
        "content-type": "application/protobuf",
    }


def post(function: services.Service, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(function.url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver(function: services.Service, path: str, body: bytes, document: str | None = None) -> dict:
    """POST one production-shaped event; asserts it was acknowledged; returns its one log line."""
    event_id = f"ev-{uuid.uuid4().hex}"
    assert post(function, body, production_headers(document or path, event_id)) == 200
    lines = function_logs(function, event_id)
    assert len(lines) == 1, lines
    return lines[0]


def update_time_of(db, path: str):
    snap = db.document(path).get()
    return snap.update_time if snap.exists else None


# -- the rule, pure -------------------------------------------------------------------------------

def test_decide_rule():
    from functions.cleanup import decide

    assert decide({"token": "t1", "invalid": True, "invalid_token": "t1"}).delete
    assert decide({"fid": "f1", "invalid": True, "invalid_token": "f1"}).delete
    # fid wins over token, as in the notifier: a dead token with a live fid is not this document's target
    assert not decide({"fid": "f1", "token": "t1", "invalid": True, "invalid_token": "t1"}).delete
    assert decide({"token": "t2", "invalid": True, "invalid_token": "t1"}).detail == "token_changed"
    assert decide({"token": "t1"}).detail == "not_marked"
    assert decide({"token": "t1", "invalid": "true", "invalid_token": "t1"}).detail == "not_marked"
    assert decide({"token": "t1", "invalid": True}).detail == "marked_without_token"
    assert decide({"invalid": True, "invalid_token": ""}).detail == "marked_without_token"
    assert not decide({"invalid": True, "invalid_token": "t1"}).delete  # no token at all any more


# -- contract: production-shaped events to functions-framework ---------------------------------

def test_marked_token_document_is_deleted(function, db, firestore_emulator):
    path = new_path()
    db.document(path).set({"token": "tok-" + uuid.uuid4().hex, "platform": "android"})
    token = db.document(path).get().get("token")
    mark(db, path, token)
    line = deliver(function, path, event_bytes(read_event_document(firestore_emulator.address, path)))
    assert line["outcome"] == "deleted"
    assert line["uid"] == path.split("/")[1] and line["device"] == path.split("/")[3]
    assert line["invalid_reason"] == "UNREGISTERED" and line["function"] == TRIGGER_ID
    assert token not in json.dumps(line)  # never a token in a log line
    assert not db.document(path).get().exists


def test_marked_fid_document_is_deleted(function, db, firestore_emulator):
    path = new_path()
    db.document(path).set({"fid": "fid-" + uuid.uuid4().hex})
    mark(db, path, db.document(path).get().get("fid"), "SENDER_ID_MISMATCH")
    line = deliver(function, path, event_bytes(read_event_document(firestore_emulator.address, path)))
    assert line["outcome"] == "deleted" and line["invalid_reason"] == "SENDER_ID_MISMATCH"
    assert not db.document(path).get().exists


def test_replay_after_delete_is_acknowledged(function, db, firestore_emulator):
    path = new_path()
    db.document(path).set({"token": "tok-a"})
    mark(db, path, "tok-a")
    body = event_bytes(read_event_document(firestore_emulator.address, path))
    assert deliver(function, path, body)["outcome"] == "deleted"
    replay = deliver(function, path, body)
    assert (replay["outcome"], replay["detail"]) == ("ignored", "already_gone")
    assert not db.document(path).get().exists


def test_reregistered_after_marking_keeps_its_token(function, db, firestore_emulator):
    """The race: the event describes the marked version, but the app wrote a fresh token since."""
    path = new_path()
    db.document(path).set({"token": "tok-old"})
    mark(db, path, "tok-old", "INVALID_ARGUMENT")
    marked = read_event_document(firestore_emulator.address, path)
    db.document(path).set({"token": "tok-new"})  # the app re-registers (plain set, marker gone)
    line = deliver(function, path, event_bytes(marked))
    assert line["outcome"] == "kept_reregistered"
    assert db.document(path).get().to_dict() == {"token": "tok-new"}


def test_reregistered_with_merge_keeps_marker_but_is_kept(function, db, firestore_emulator):
    """A new token written with merge leaves `invalid: true` behind: the token differs, so it stays."""
    path = new_path()
    db.document(path).set({"token": "tok-old"})
    mark(db, path, "tok-old")
    db.document(path).set({"token": "tok-new"}, merge=True)
    before = update_time_of(db, path)
    line = deliver(function, path, event_bytes(read_event_document(firestore_emulator.address, path)))
    assert (line["outcome"], line["detail"]) == ("kept_reregistered", "token_changed")
    assert update_time_of(db, path) == before  # no write at all


def test_superseded_marked_version_waits_for_its_own_event(function, db, firestore_emulator):
    """A newer write that keeps the document dead: the old event leaves it, the new event deletes it."""
    path = new_path()
    db.document(path).set({"token": "tok-x"})
    mark(db, path, "tok-x")
    first = read_event_document(firestore_emulator.address, path)
    db.document(path).update({"last_seen": "2026-11-26"})
    second = read_event_document(firestore_emulator.address, path)
    line = deliver(function, path, event_bytes(first, None))
    assert (line["outcome"], line["detail"]) == ("ignored", "superseded")
    assert db.document(path).get().exists
    assert deliver(function, path, event_bytes(second, first))["outcome"] == "deleted"
    assert not db.document(path).get().exists


def test_unmarked_document_is_ignored_without_a_write(function, db, firestore_emulator):
    path = new_path()
    db.document(path).set({"token": "tok-live", "invalid": "true", "invalid_token": "tok-live"})
    before = update_time_of(db, path)
    line = deliver(function, path, event_bytes(read_event_document(firestore_emulator.address, path)))
    assert (line["outcome"], line["detail"]) == ("ignored", "not_marked")
    assert update_time_of(db, path) == before


def test_delete_event_is_ignored(function, db, firestore_emulator):
    path = new_path()
    db.document(path).set({"token": "tok-gone"})
    mark(db, path, "tok-gone")
    old = read_event_document(firestore_emulator.address, path)
    db.document(path).delete()
    line = deliver(function, path, event_bytes(None, old))
    assert (line["outcome"], line["detail"]) == ("ignored", "delete_event")


def test_other_project_is_not_touched(function, db, firestore_emulator):
    """An event naming another project's document: acknowledged, never deleted in ours."""
    path = new_path()
    db.document(path).set({"token": "tok-p"})
    mark(db, path, "tok-p")
    doc = read_event_document(firestore_emulator.address, path)
    doc.name = doc.name.replace(f"projects/{PROJECT}/", "projects/demo-someone-else/")
    line = deliver(function, path, event_bytes(doc))
    assert line["outcome"] == "invalid_event" and line["severity"] == "WARNING"
    assert db.document(path).get().exists


@pytest.mark.parametrize("body, document, content_type", [
    (b"\xff\xfe not protobuf", None, "application/protobuf"),
    (b"", None, "application/protobuf"),
    (b'{"value": {"name": "x"}}', None, "application/json"),
    (base64.b64encode(b"\x0a\x02\x0a\x00"), None, "application/protobuf"),  # the emulator's base64 text
    ("user-profile", "users/UID", "application/protobuf"),  # not a token document
    ("mismatch", "users/OTHER/fcm_tokens/d1", "application/protobuf"),  # attribute disagrees with body
], ids=["garbage", "empty", "json", "base64-text", "not-a-token-path", "attribute-mismatch"])
def test_malformed_events_are_acknowledged_with_one_warning(function, db, firestore_emulator,
                                                            body, document, content_type):
    path = new_path()
    db.document(path).set({"token": "tok-m"})
    mark(db, path, "tok-m")
    if body == "user-profile":
        uid = path.split("/")[1]
        db.document(f"users/{uid}").set({"fcm_token": "tok-m"})
        body = event_bytes(read_event_document(firestore_emulator.address, f"users/{uid}"))
        document = f"users/{uid}"
    elif body == "mismatch":
        body = event_bytes(read_event_document(firestore_emulator.address, path))
    event_id = f"ev-{uuid.uuid4().hex}"
    headers = {**production_headers(document or path, event_id), "content-type": content_type}
    assert post(function, body, headers) == 200
    lines = function_logs(function, event_id)
    assert [(line["severity"], line["outcome"]) for line in lines] == [("WARNING", "invalid_event")]
    assert db.document(path).get().exists  # nothing deleted
    if document and document.startswith("users/") and "/" not in document[6:]:
        assert db.document(document).get().to_dict() == {"fcm_token": "tok-m"}


# -- in process: what needs no Firestore, and Firestore down ------------------------------------

def _closed_port_env(monkeypatch):
    from functions import clients, config

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{services.free_port()}")  # nothing listens
    config.reset()
    clients.reset()


def test_ignored_events_never_call_firestore(monkeypatch, db, firestore_emulator):
    """Unmarked and delete events decide from the event alone: they succeed with Firestore unreachable."""
    from functions import cleanup, clients, config

    path = new_path()
    db.document(path).set({"token": "tok-i"})
    live = read_event_document(firestore_emulator.address, path)
    _closed_port_env(monkeypatch)
    try:
        assert cleanup.handle_document_written("e1", path, event_bytes(live)) == "ignored"
        assert cleanup.handle_document_written("e2", path, event_bytes(None, live)) == "ignored"
    finally:
        config.reset()
        clients.reset()


def test_firestore_unavailable_raises_for_retry(monkeypatch, capsys, db, firestore_emulator):
    """A transient error must surface (functions-framework answers 500, Eventarc retries)."""
    from google.api_core import exceptions as gexc

    from functions import cleanup, clients, config

    path = new_path()
    db.document(path).set({"token": "tok-u"})
    mark(db, path, "tok-u")
    marked = read_event_document(firestore_emulator.address, path)
    _closed_port_env(monkeypatch)
    monkeypatch.setenv("FIRESTORE_TIMEOUT_SECONDS", "1")
    config.reset()
    try:
        with pytest.raises(gexc.GoogleAPIError):
            cleanup.handle_document_written("e3", path, event_bytes(marked))
    finally:
        config.reset()
        clients.reset()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["outcome"] for line in lines] == ["retry"]
    assert db.document(path).get().exists


# -- end to end: real writes -> emulator trigger -> adapter -> functions-framework ------------

def _deliveries_for(adapter: TriggerAdapter, path: str, count: int):
    return [d for d in adapter.wait_for(lambda ds: sum(d.document == path for d in ds) >= count, 60)
            if d.document == path]


def _outcome(function: services.Service, event_id: str) -> str:
    lines = function_logs(function, event_id)
    assert len(lines) == 1, lines
    return lines[0]["outcome"]


def test_e2e_marked_document_is_deleted_by_the_trigger(adapter, function, db):
    path = new_path()
    db.document(path).set({"token": "tok-e2e"})
    mark(db, path, "tok-e2e")
    created, marked = _deliveries_for(adapter, path, 2)[:2]  # the delete may already be in too
    assert (created.status, marked.status) == (200, 200)
    assert _outcome(function, created.event_id) == "ignored"
    assert _outcome(function, marked.event_id) == "deleted"
    assert not db.document(path).get().exists
    # the delete fires the trigger once more; the function ignores it (no loop)
    (deleted,) = _deliveries_for(adapter, path, 3)[2:]
    assert _outcome(function, deleted.event_id) == "ignored"
    assert len([d for d in adapter.deliveries if d.document == path]) == 3


def test_e2e_reregistration_between_marking_and_cleanup_survives(adapter, function, db):
    path = new_path()
    db.document(path).set({"token": "tok-dead"})
    _deliveries_for(adapter, path, 1)
    adapter.hold()  # the marking's event is in flight while the device re-registers
    try:
        mark(db, path, "tok-dead")
        db.document(path).set({"token": "tok-fresh"})
    finally:
        adapter.release()
    _created, marked, reregistered = _deliveries_for(adapter, path, 3)
    assert _outcome(function, marked.event_id) == "kept_reregistered"
    assert _outcome(function, reregistered.event_id) == "ignored"
    assert db.document(path).get().to_dict() == {"token": "tok-fresh"}


def test_e2e_notifier_marks_dead_token_and_the_trigger_deletes_it(adapter, function, db, env, redis_db, fcm,
                                                                  monkeypatch):
    """The whole chain: notifier push -> FCM UNREGISTERED -> marked -> emulator trigger -> deleted."""
    from functions import clients, config, notify

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)  # the project whose trigger is registered
    config.reset()
    clients.reset()
    uid = f"user-{uuid.uuid4().hex[:12]}"
    dead, live = f"users/{uid}/fcm_tokens/phone", f"users/{uid}/fcm_tokens/tablet"
    db.document(dead).set({"token": f"dead-{uuid.uuid4().hex}"})
    db.document(live).set({"token": f"live-{uuid.uuid4().hex}"})
    db.document(f"users/{uid}").set({"fcm_token": f"dead-legacy-{uuid.uuid4().hex}", "name": "A"})
    _deliveries_for(adapter, dead, 1)
    _deliveries_for(adapter, live, 1)

    event = {"version": 1, "uid": uid, "provider": "openai",
             "occurred_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "error": {"status_code": 401, "type": "AuthenticationError", "code": "invalid_api_key",
                       "message": "Incorrect API key provided: sk-proj-****abcd."}}
    data = {"message": {"data": base64.b64encode(json.dumps(event).encode()).decode(),
                        "messageId": "m-1", "publishTime": event["occurred_at"]},
            "subscription": f"projects/{PROJECT}/subscriptions/notify"}
    try:
        assert notify.handle_pubsub_event(f"ps-{uuid.uuid4().hex}", data) == "sent"
    finally:
        config.reset()
        clients.reset()

    _created, marked, deleted = _deliveries_for(adapter, dead, 3)
    assert _outcome(function, marked.event_id) == "deleted"
    assert _outcome(function, deleted.event_id) == "ignored"
    assert not db.document(dead).get().exists
    assert db.document(live).get().exists
    # the legacy field was cleared by the notifier itself; no trigger watches the user document
    user = db.document(f"users/{uid}").get().to_dict()
    assert "fcm_token" not in user and user["fcm_token_invalid_reason"] == "UNREGISTERED"
    assert not [d for d in adapter.deliveries if d.document == f"users/{uid}"]
    assert len([d for d in adapter.deliveries if d.document == live]) == 1
