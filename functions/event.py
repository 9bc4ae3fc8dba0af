"""The error event contract, version 1 (schemas/byok-error-event.v1.json): decode and validate.

The rules themselves live in contract.py, shared with the backend's reporter.

Anything that does not satisfy the contract raises InvalidEvent with a short description that
never contains the offending value (it may hold a key), so the caller can log it and acknowledge.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from .contract import ERROR_TEXT_LIMITS as _ERROR_TEXT_FIELDS
from .contract import FINGERPRINT_RE, KINDS, PROVIDER_RE, valid_uid, verification_problem

__all__ = ["ErrorEvent", "InvalidEvent", "FINGERPRINT_RE", "KINDS", "PROVIDER_RE", "parse_event",
           "parse_time", "unwrap_pubsub", "valid_uid"]

_DESCRIPTIVE = ("feature", "model", "operation")


class InvalidEvent(ValueError):
    """The event breaks the contract; `str()` says how, without echoing values."""


@dataclass(frozen=True)
class ErrorEvent:
    event_id: str
    uid: str
    provider: str
    error: dict
    occurred_at: datetime
    kind: str = "error"
    key_fingerprint: str | None = None
    feature: str | None = None
    model: str | None = None
    operation: str | None = None
    attributes: dict = field(default_factory=dict)
    # What the reporter learnt by asking the provider (contract: verification); None when absent or
    # malformed. A malformed one is ignored, not poison: the error itself is still worth classifying.
    verification: dict | None = None
    verification_problem: str | None = None


def unwrap_pubsub(data: Any) -> tuple[bytes, str | None, dict]:
    """The message bytes, publish time and attributes of a Pub/Sub messagePublished CloudEvent's data."""
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = json.loads(data)
        except ValueError:
            raise InvalidEvent("CloudEvent data is not JSON") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("message"), Mapping):
        raise InvalidEvent("CloudEvent data has no Pub/Sub 'message' object")
    message = data["message"]
    encoded = message.get("data")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidEvent("Pub/Sub message has no data")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEvent("Pub/Sub message data is not valid base64") from None
    publish_time = message.get("publishTime") or message.get("publish_time")
    attributes = message.get("attributes")
    return raw, publish_time if isinstance(publish_time, str) else None, \
        dict(attributes) if isinstance(attributes, Mapping) else {}


def parse_time(value: str) -> datetime:
    """An RFC 3339 timestamp with an offset, as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidEvent("occurred_at is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise InvalidEvent("occurred_at has no UTC offset")
    return parsed.astimezone(timezone.utc)


def _optional_str(obj: Mapping, name: str, limit: int | None, where: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{where}{name} must be a string or null")
    if limit is not None and len(value) > limit:
        raise InvalidEvent(f"{where}{name} is longer than {limit} characters")
    return value


def parse_event(event_id: str, raw: bytes, publish_time: str | None = None,
                max_bytes: int = 262144, attributes: dict | None = None) -> ErrorEvent:
    """Validate the message bytes against contract v1 and return the event."""
    if len(raw) > max_bytes:
        raise InvalidEvent(f"event is {len(raw)} bytes, more than the {max_bytes} allowed")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidEvent("event is not UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise InvalidEvent("event is not a JSON object")
    version = doc.get("version")
    if type(version) is not int or version != 1:
        raise InvalidEvent("version must be 1")
    kind = doc.get("kind", "error")
    if kind not in KINDS:
        raise InvalidEvent("kind is not supported")
    uid = doc.get("uid")
    if not valid_uid(uid):
        raise InvalidEvent("uid must be a Firestore document id (1-128 characters, no '/', not '.', "
                           "'..' or '__x__')")
    provider = doc.get("provider")
    if not isinstance(provider, str) or not PROVIDER_RE.fullmatch(provider):
        raise InvalidEvent("provider must match [a-z0-9_-]{1,40}")
    error = doc.get("error")
    if kind == "recovered" and error is None:
        error = {}  # "the key works again" carries no error
    if not isinstance(error, dict):
        raise InvalidEvent("error must be an object")
    status = error.get("status_code")
    if status is not None and (type(status) is not int or not 0 <= status <= 4999):
        # an HTTP status, or a WebSocket close code (1000-4999) for a realtime API
        raise InvalidEvent("error.status_code must be an integer from 0 to 4999, or null")
    for name, limit in _ERROR_TEXT_FIELDS.items():
        _optional_str(error, name, limit, "error.")
    fingerprint = doc.get("key_fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not FINGERPRINT_RE.fullmatch(fingerprint)):
        raise InvalidEvent("key_fingerprint must be 1-128 characters of [A-Za-z0-9_:.=+/-], or null")
    descriptive = {name: _optional_str(doc, name, 256, "") for name in _DESCRIPTIVE}
    occurred = doc.get("occurred_at")
    if occurred is None:
        if not publish_time:
            raise InvalidEvent("occurred_at is missing and the message has no publish time")
        occurred = publish_time
    elif not isinstance(occurred, str):
        raise InvalidEvent("occurred_at must be an RFC 3339 string")
    verification, problem = doc.get("verification"), None
    if verification is not None:
        problem = verification_problem(verification)
        if problem is not None:
            verification = None
    return ErrorEvent(
        event_id=event_id, uid=uid, provider=provider, error=error, occurred_at=parse_time(occurred),
        kind=kind, key_fingerprint=fingerprint, attributes=attributes or {}, **descriptive,
        verification=dict(verification) if verification is not None else None, verification_problem=problem,
    )
