"""Delete FCM token documents the notifier marked dead, without ever deleting a re-registered device.

Trigger: `google.cloud.firestore.document.v1.written` on `users/{uid}/fcm_tokens/{device}`. The body is
a protobuf `DocumentEventData` (google-events). The notifier marks a dead document with `invalid: true`,
`invalid_token`, `invalid_reason`, `invalid_at` (functions/tokens.py). This function deletes it only when

  1. the event's new value is marked `invalid: true`,
  2. its current target (`fid`, else `token`: the notifier's own preference) equals `invalid_token`, and
  3. the document is still that very version: the delete carries a precondition on the update time the
     event describes, so a device that wrote a fresh token after the marking keeps it.

Everything else is acknowledged without a write: delete events, unmarked documents, replays, documents
already gone, versions superseded by a newer write (whose own event decides). Only a delete is ever
written, and a delete event is ignored, so the function cannot trigger itself in a loop. A payload that
cannot be decoded is one warning and is acknowledged (a retry would fail the same way); a transient
Firestore error raises, so Eventarc retries the event (deploy with --retry).

The legacy `users/{uid}.fcm_token` field is never touched here: the notifier clears it itself when FCM
rejects it (a trigger on every user-profile write would be wasteful). See docs/cleanup.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from . import clients, config, logs
from .tokens import bounded_retry

FUNCTION = config.CLEANUP

DELETED = "deleted"
KEPT = "kept_reregistered"
IGNORED = "ignored"
INVALID_EVENT = "invalid_event"

# users/{uid}/fcm_tokens/{device}: the only documents this function (and the sweep) may delete.
TOKEN_PATH = re.compile(r"^users/(?P<uid>[^/]+)/fcm_tokens/(?P<device>[^/]+)$")
_RESOURCE = re.compile(r"^projects/(?P<project>[^/]+)/databases/(?P<database>[^/]+)/documents/(?P<path>.+)$")



class InvalidEvent(ValueError):
    """The event cannot be understood; retrying it would fail the same way."""


@dataclass(frozen=True)
class Decision:
    """Whether a version of a token document may be deleted, and why (a short word for the log)."""

    delete: bool
    detail: str


def current_target(fields: Mapping[str, Any]) -> str | None:
    """The value the notifier sends to: `fid` when set, else `token` (same order as tokens.read_targets)."""
    for kind in ("fid", "token"):
        value = fields.get(kind)
        if isinstance(value, str) and value.strip():
            return value
    return None


def decide(fields: Mapping[str, Any]) -> Decision:
    """The deletion rule on one version of a token document (plain values: bool, str, ...)."""
    if fields.get("invalid") is not True:
        return Decision(False, "not_marked")
    marked = fields.get("invalid_token")
    if not isinstance(marked, str) or not marked:
        return Decision(False, "marked_without_token")
    if current_target(fields) != marked:
        return Decision(False, "token_changed")
    return Decision(True, "marked_dead")


def token_path(path: str) -> tuple[str, str] | None:
    """(uid, device) when `path` is a token document path, else None."""
    match = TOKEN_PATH.match(path)
    return (match["uid"], match["device"]) if match else None


def _plain_field(document_pb, name: str) -> Any:
    """One field as a Python bool or str; absent is None; other kinds a marker that never matches."""
    if name not in document_pb.fields:
        return None
    value = document_pb.fields[name]
    kind = value.WhichOneof("value_type")
    if kind == "boolean_value":
        return value.boolean_value
    if kind == "string_value":
        return value.string_value
    return (kind,)


def _plain_fields(document_pb) -> dict[str, Any]:
    """The few fields the rule reads, as Python values."""
    fields = {name: _plain_field(document_pb, name) for name in ("invalid", "invalid_token", "token", "fid")}
    return {name: value for name, value in fields.items() if value is not None}


def _decode(data: Any):
    """The DocumentEventData protobuf message of an event body, or InvalidEvent."""
    from google.events.cloud.firestore import DocumentEventData
    from google.protobuf.unknown_fields import UnknownFieldSet

    if data is None:
        data = b""  # functions-framework turns an empty body into None
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        # functions-framework hands bytes for application/protobuf; JSON or text means a wrong sender.
        raise InvalidEvent(f"body is {type(data).__name__}, expected protobuf bytes")
    try:
        event = DocumentEventData.pb(DocumentEventData.deserialize(data))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad payload, never a retry
        raise InvalidEvent(f"body is not a DocumentEventData protobuf ({type(exc).__name__})") from None
    if len(UnknownFieldSet(event)) or not (event.HasField("value") or event.HasField("old_value")):
        # Random bytes can parse as unknown fields; a real event always carries value or old_value.
        raise InvalidEvent("body is not a DocumentEventData protobuf (no document in it)")
    return event


def _split_name(name: str) -> tuple[str, str, str]:
    match = _RESOURCE.match(name)
    if not match:
        raise InvalidEvent("document name is not a Firestore resource name")
    return match["project"], match["database"], match["path"]


def _deadline() -> float:
    """Firestore calls are retried in-process this long (FIRESTORE_TIMEOUT_SECONDS), then Eventarc retries."""
    return config.get(need_redis=False).firestore_timeout_seconds


def delete_if_unchanged(db, path: str, update_time) -> tuple[str, str]:
    """Delete `path` only if it is still the version written at `update_time`; (outcome, detail).

    On a precondition failure the document is read once, only to say what happened in the log:
    gone (a replay, the sweep or another delivery got there first), re-registered, or superseded by a
    newer version that is still marked (that version's own event, or the sweep, deletes it).
    """
    from google.api_core import exceptions as gexc

    ref = db.document(path)
    try:
        ref.delete(option=db.write_option(last_update_time=update_time), retry=bounded_retry(_deadline()),
                   timeout=_deadline())
        return DELETED, "marked_dead"
    except gexc.NotFound:
        return IGNORED, "already_gone"
    except gexc.FailedPrecondition:
        pass
    snap = ref.get(retry=bounded_retry(_deadline()), timeout=_deadline())
    if not snap.exists:
        return IGNORED, "already_gone"
    now = decide(snap.to_dict() or {})
    return (IGNORED, "superseded") if now.delete else (KEPT, now.detail)


def handle_document_written(event_id: str, document: str | None, data: bytes | Any, db=None) -> str:
    """Handle one `document.v1.written` event; returns the outcome (logged once, as a JSON line).

    Returns normally for everything but a transient Firestore error, which propagates so the event is
    retried. `document` is the event's `document` extension attribute (e.g. users/u1/fcm_tokens/d1).
    """
    fields: dict[str, Any] = {"function": FUNCTION, "event_id": event_id}
    try:
        event = _decode(data)
        described = event.value if event.HasField("value") else event.old_value
        project, database, path = _split_name(described.name)
        ids = token_path(path)
        if ids is None:
            raise InvalidEvent("document is not users/{uid}/fcm_tokens/{device}")
        if document is not None and document != path:
            raise InvalidEvent("document attribute does not match the document in the body")
    except InvalidEvent as exc:
        extra = {"document_attribute": document[:200]} if isinstance(document, str) else {}
        logs.warning(f"cleanup: invalid event, acknowledged: {exc}", outcome=INVALID_EVENT, **fields, **extra)
        return INVALID_EVENT
    fields.update(uid=ids[0], device=ids[1], document=path)

    if not event.HasField("value"):
        logs.info("cleanup: document deleted, nothing to do", outcome=IGNORED, detail="delete_event", **fields)
        return IGNORED
    decision = decide(_plain_fields(event.value))
    if not decision.delete:
        outcome = KEPT if decision.detail == "token_changed" else IGNORED
        logs.info("cleanup: not a dead token version, nothing to do", outcome=outcome,
                  detail=decision.detail, **fields)
        return outcome

    db = db or clients.firestore_client()
    expected = (db.project, getattr(db, "_database", "(default)"))
    if (project, database) != expected:
        logs.warning("cleanup: event for another project or database, acknowledged", outcome=INVALID_EVENT,
                     event_project=project, event_database=database, **fields)
        return INVALID_EVENT
    try:
        outcome, detail = delete_if_unchanged(db, path, event.value.update_time)
    except Exception as exc:
        logs.warning(f"cleanup: Firestore error, raising so the event is retried ({type(exc).__name__})",
                     outcome="retry", **fields)
        raise
    message = {DELETED: "cleanup: dead token document deleted",
               KEPT: "cleanup: device re-registered since it was marked, kept",
               IGNORED: "cleanup: nothing to delete"}[outcome]
    logs.info(message, outcome=outcome, detail=detail, invalid_reason=_reason(event.value), **fields)
    return outcome


def _reason(document_pb) -> str | None:
    """The marking's invalid_reason, for the log (only the notifier's known values)."""
    reason = _plain_field(document_pb, "invalid_reason")
    return reason if reason in ("UNREGISTERED", "SENDER_ID_MISMATCH", "INVALID_ARGUMENT") else None
