"""What the local page shows next to the inbox: the dedup state in Redis and the token documents in Firestore.

Read-only views for people, never used by the functions. The dedup view decodes the notifier's keys
(functions/dedup.py: `byok:{provider:uid}:reason:fingerprint`, values `L|event|nonce` for a delivery
lease, `M|outcome|event|unixtime` for a mark). The token tracker polls the Firestore emulator's REST
API for every `fcm_tokens` document and remembers what it saw, so a document the cleanup function
deleted is still listed, as deleted, with the time it went away.
"""
from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import unquote

DEDUP_PATTERN = "byok:*"
MAX_KEYS = 200


def parse_dedup_key(key: str) -> dict[str, str | None] | None:
    """`byok:{openai:u1}:quota_exhausted:-` -> provider, uid, reason, fingerprint (None for `-`)."""
    if not key.startswith("byok:{"):
        return None
    close = key.find("}:", 6)
    if close < 0:
        return None
    tag, rest = key[6:close], key[close + 2:]
    provider, sep, uid = tag.partition(":")
    reason, sep2, fingerprint = rest.partition(":")
    if not sep or not sep2 or ":" in fingerprint:
        return None
    return {"provider": provider, "uid": unquote(uid), "reason": reason,
            "fingerprint": None if fingerprint == "-" else unquote(fingerprint)}


def parse_dedup_value(value: bytes | str | None) -> dict[str, Any]:
    """A lease (a delivery under way) or a mark (what happened, and since when)."""
    if value is None:
        return {"kind": "gone"}
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    parts = text.split("|")
    if parts[0] == "L" and len(parts) >= 2:
        return {"kind": "lease", "event_id": parts[1]}
    if parts[0] == "M" and len(parts) >= 4:
        try:
            since = int(parts[3])
        except ValueError:
            since = None
        return {"kind": "mark", "outcome": parts[1], "event_id": parts[2], "since": since}
    return {"kind": "unknown"}


class DedupView:
    """The current dedup keys of one Redis database."""

    def __init__(self, redis_url: str) -> None:
        import redis  # only the local stack needs it here

        self.client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)

    def snapshot(self) -> list[dict[str, Any]]:
        """One row per subject key (other keys, such as a user's index set, are skipped)."""
        subjects = []
        for key in self.client.scan_iter(match=DEDUP_PATTERN, count=500):
            subject = parse_dedup_key(key.decode(errors="replace"))
            if subject is not None:
                subjects.append((key, subject))
                if len(subjects) >= MAX_KEYS:
                    break
        if not subjects:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key, _ in subjects:
            pipe.get(key)
            pipe.pttl(key)
        answers = pipe.execute(raise_on_error=False)
        rows = []
        for i, (_, subject) in enumerate(subjects):
            value, pttl = answers[2 * i], answers[2 * i + 1]
            if isinstance(value, Exception) or isinstance(pttl, Exception):
                continue  # not a string key after all
            state = parse_dedup_value(value)
            if state["kind"] == "gone":
                continue
            rows.append({**subject, **state, "ttl_seconds": round(pttl / 1000) if pttl and pttl > 0 else None})
        rows.sort(key=lambda r: (r["uid"], r["provider"], r["reason"]))
        return rows

    def close(self) -> None:
        self.client.close()


def _plain(value: dict) -> Any:
    """A Firestore REST value as plain JSON (the few types token and mail documents use)."""
    for kind in ("stringValue", "booleanValue", "timestampValue", "integerValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "nullValue" in value:
        return None
    if "mapValue" in value:  # a mail document's `message`
        return {k: _plain(v) for k, v in (value["mapValue"].get("fields") or {}).items()}
    return "…"


def epoch(value: Any) -> float | None:
    """An RFC 3339 timestamp (Firestore REST) or epoch seconds, as epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return None
    frac = (m[2] or ".0")[:7]
    return datetime.fromisoformat(m[1] + frac + ("+00:00" if m[3] == "Z" else m[3])).timestamp()


def token_hint(token: str | None) -> str:
    """Enough of a token to tell devices apart on a local page; never the whole value."""
    if not token:
        return ""
    return token[:10] + ("…" if len(token) > 10 else "")


class TokenTracker:
    """Polls the Firestore emulator for `users/*/fcm_tokens/*` and keeps each document's history."""

    def __init__(self, emulator: str, project: str, interval: float = 0.3) -> None:
        self.url = (f"http://{emulator}/v1/projects/{project}/databases/(default)/documents:runQuery")
        self.interval = interval
        self.lock = threading.Lock()
        self.docs: dict[str, dict[str, Any]] = {}   # path -> what we know
        self.tokens: dict[str, tuple[str, str]] = {}  # token value -> (uid, device)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="token-tracker", daemon=True)

    def start(self) -> "TokenTracker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _query(self) -> list[dict]:
        body = json.dumps({"structuredQuery": {"from": [{"collectionId": "fcm_tokens",
                                                         "allDescendants": True}]}}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": "Bearer owner"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return [row["document"] for row in json.loads(resp.read() or b"[]") if "document" in row]

    def poll(self) -> None:
        """One look at the emulator; documents that vanished since the last look are deleted."""
        try:
            found = self._query()
        except (OSError, ValueError) as exc:
            with self.lock:
                self.error = f"{type(exc).__name__}: {exc}"
            return
        now = time.time()
        present = set()
        with self.lock:
            self.error = None
            for doc in found:
                path = doc["name"].split("/documents/", 1)[-1]
                parts = path.split("/")
                if len(parts) != 4 or parts[0] != "users" or parts[2] != "fcm_tokens":
                    continue
                present.add(path)
                fields = {k: _plain(v) for k, v in (doc.get("fields") or {}).items()}
                target = fields.get("fid") or fields.get("token")
                entry = self.docs.setdefault(path, {"path": path, "uid": parts[1], "device": parts[3],
                                                    "first_seen": now})
                entry.update(token=target if isinstance(target, str) else None,
                             invalid=fields.get("invalid") is True,
                             invalid_reason=fields.get("invalid_reason"),
                             invalid_at=fields.get("invalid_at"), deleted_at=None)
                if entry["invalid"] and not entry.get("marked_seen"):
                    entry["marked_seen"] = now
                if isinstance(target, str):
                    self.tokens[target] = (parts[1], parts[3])
                token = fields.get("invalid_token")
                if isinstance(token, str):
                    self.tokens.setdefault(token, (parts[1], parts[3]))
            for path, entry in self.docs.items():
                if path not in present and entry.get("deleted_at") is None:
                    entry["deleted_at"] = now

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def snapshot(self) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]], dict[str, str], str | None]:
        """(token document rows, token value -> (uid, device), path -> current token, last error)."""
        with self.lock:
            current = {p: e["token"] for p, e in self.docs.items() if e.get("token") and not e.get("deleted_at")}
            rows = []
            for entry in self.docs.values():
                state = "deleted" if entry.get("deleted_at") else "marked" if entry.get("invalid") else "active"
                rows.append({"path": entry["path"], "uid": entry["uid"], "device": entry["device"],
                             "token_hint": token_hint(entry.get("token")), "state": state,
                             "invalid_reason": entry.get("invalid_reason"),
                             "marked_at": epoch(entry.get("invalid_at")) or entry.get("marked_seen"),
                             "deleted_at": entry.get("deleted_at")})
            rows.sort(key=lambda r: (r["uid"], r["device"]))
            return rows, dict(self.tokens), current, self.error


class MailView:
    """The Trigger Email documents (`mail/*`) in the Firestore emulator, newest first, as the extension would send them."""

    def __init__(self, emulator: str, project: str, collection: str = "mail", limit: int = 50) -> None:
        self.url = (f"http://{emulator}/v1/projects/{project}/databases/(default)/documents/{collection}"
                    f"?pageSize={limit}")

    def snapshot(self) -> list[dict[str, Any]]:
        req = urllib.request.Request(self.url, headers={"Authorization": "Bearer owner"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            docs = json.loads(resp.read() or b"{}").get("documents", [])
        rows = []
        for doc in docs:
            fields = {k: _plain(v) for k, v in (doc.get("fields") or {}).items()}
            message = fields.get("message") if isinstance(fields.get("message"), dict) else {}
            rows.append({"id": doc["name"].rsplit("/", 1)[-1], "to": fields.get("to"),
                         "subject": message.get("subject"), "text": message.get("text"),
                         "at": epoch(fields.get("created_at")) or epoch(doc.get("createTime"))})
        rows.sort(key=lambda r: r["at"] or 0, reverse=True)
        return rows
