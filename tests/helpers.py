"""Builders for events as they really arrive, shared by the notifier tests."""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any

QUOTA_ERROR = {
    "status_code": 429, "type": "RateLimitError", "code": "insufficient_quota",
    "message": "Error code: 429 - {'error': {'message': 'You exceeded your current quota, please check your "
               "plan and billing details.', 'type': 'insufficient_quota', 'param': None, "
               "'code': 'insufficient_quota'}}",
    "body": {"error": {"message": "You exceeded your current quota, please check your plan and billing details.",
                       "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}},
}
INVALID_KEY_ERROR = {
    "status_code": 401, "type": "AuthenticationError", "code": "invalid_api_key",
    "message": "Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-proj-"
               "abcdEFGH1234ijklMNOP5678qrstUVWX. You can find your API key at "
               "https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error', "
               "'param': None, 'code': 'invalid_api_key'}}",
}
RATE_LIMIT_ERROR = {
    "status_code": 429, "type": "RateLimitError", "code": "rate_limit_exceeded",
    "message": "Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in organization "
               "org-abc on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again "
               "in 2s.', 'type': 'tokens', 'param': None, 'code': 'rate_limit_exceeded'}}",
}
SERVER_ERROR = {"status_code": 503, "type": "InternalServerError", "message": "Service Unavailable"}


def now_rfc3339(offset_seconds: float = 0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def event(uid: str, provider: str = "openai", error: dict | None = None, **extra: Any) -> dict:
    doc = {"version": 1, "uid": uid, "provider": provider, "occurred_at": now_rfc3339(),
           "error": QUOTA_ERROR if error is None else error}
    doc.update(extra)
    return doc


def pubsub_data(payload: dict | bytes | str, message_id: str | None = None) -> dict:
    """The `data` of a google.cloud.pubsub.topic.v1.messagePublished CloudEvent."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    raw = payload.encode() if isinstance(payload, str) else payload
    message_id = message_id or uuid.uuid4().hex
    return {"message": {"data": base64.b64encode(raw).decode(), "attributes": {},
                        "messageId": message_id, "publishTime": now_rfc3339()},
            "subscription": "projects/demo-byok-test/subscriptions/notifier"}


def log_lines(text: str) -> list[dict]:
    """The JSON log lines in captured stdout."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def concurrently(n: int, fn) -> list:
    """Run fn(0..n-1) in n threads released together; a RetryLater counts as "retry"."""
    from functions import notify

    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except notify.RetryLater:
            results[i] = "retry"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class NotifierWorld:
    """What a notifier test touches (real Redis, the Firestore emulator, the local FCM server), with the moves the
    notifier tests share; each test module's `world` fixture builds one, or a subclass with its own helpers."""

    def __init__(self, redis, db, server, monkeypatch, services: dict | None = None) -> None:
        self.redis, self.db, self.server, self.services = redis, db, server, services
        self._monkeypatch = monkeypatch

    def setenv(self, name: str, value: str) -> None:
        """Change a setting mid-test: the configuration and the clients are read again."""
        from functions import clients, config

        self._monkeypatch.setenv(name, value)
        config.reset()
        clients.reset()

    def handle(self, payload, event_id: str | None = None) -> str:
        """One Pub/Sub delivery of `payload` to the notifier, as functions-framework makes it."""
        from functions import notify

        event_id = event_id or uuid.uuid4().hex
        return notify.handle_pubsub_event(event_id, pubsub_data(payload, event_id))

    def status(self, uid: str, provider: str = "openai") -> dict | None:
        """The in-app status document the app reads."""
        snap = self.db.document(f"users/{uid}/byok_status/{provider}").get()
        return snap.to_dict() if snap.exists else None
