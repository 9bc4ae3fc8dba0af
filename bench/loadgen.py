"""A load of Pub/Sub CloudEvents for a functions-framework worker, sent as Pub/Sub push would send them.

Shared by bench/load.py and the fault drills (tests/test_drills.py):

- `mix()` builds the event mix: new actionable events for distinct users (each with one or two
  devices), duplicates of already-notified subjects and of the new ones, non-actionable errors and
  poison, shuffled with a fixed seed.
- `Load` posts them from N concurrent senders with at-least-once redelivery: an event answered with
  anything but 2xx (or not answered) is posted again after a backoff, as Pub/Sub does after a nack
  (Pub/Sub's own minimum backoff is 10 s; the default here is shorter to keep runs bounded).
- `check()` compares what the local FCM server received with what should have been sent: every
  expected push exactly once, none extra, none lost.
"""
from __future__ import annotations

import base64
import json
import random
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

PROJECT_TOPIC = "//pubsub.googleapis.com/projects/demo-byok/topics/byok-llm-errors"

from tests.helpers import QUOTA_ERROR as QUOTA  # noqa: E402 - the same real error the tests use

INVALID_KEY = {"status_code": 401, "type": "AuthenticationError", "code": "invalid_api_key",
               "message": "Error code: 401 - Incorrect API key provided: sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX."}
NOT_ACTIONABLE = [
    {"status_code": 429, "type": "RateLimitError", "code": "rate_limit_exceeded",
     "message": "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000."},
    {"status_code": 503, "type": "InternalServerError", "message": "Service Unavailable"},
    {"status_code": 529, "type": "overloaded_error", "message": "Overloaded"},
    {"message": "Request timed out."},
]
POISON: list[bytes] = [b"{not json", b"[1, 2]", b"\xff\xfe{}", json.dumps({"version": 2}).encode(),
                       json.dumps({"version": 1, "uid": "../x", "provider": "openai", "error": {}}).encode(),
                       json.dumps({"version": 1, "uid": "a/b", "provider": "openai", "error": {}}).encode(),
                       json.dumps({"version": 1, "uid": "u", "provider": "OpenAI!", "error": {}}).encode()]


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def error_event(uid: str, error: dict, provider: str = "openai") -> bytes:
    return json.dumps({"version": 1, "uid": uid, "provider": provider, "occurred_at": now_rfc3339(),
                       "feature": "chat", "error": error}).encode()


@dataclass
class Event:
    kind: str          # new | duplicate | not_actionable | poison
    event_id: str
    body: bytes        # the Pub/Sub message data (before base64)
    uid: str | None = None

    def cloudevent_data(self) -> dict:
        """The CloudEvent's data, as functions-framework hands it to the function."""
        return {"message": {"data": base64.b64encode(self.body).decode(), "attributes": {},
                            "messageId": self.event_id, "publishTime": now_rfc3339()},
                "subscription": "projects/demo-byok/subscriptions/notifier"}

    def cloudevent(self) -> tuple[dict, bytes]:
        """Binary-mode headers and body, as Eventarc posts a Pub/Sub message."""
        data = self.cloudevent_data()
        headers = {"ce-id": self.event_id, "ce-specversion": "1.0",
                   "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
                   "ce-source": PROJECT_TOPIC, "content-type": "application/json"}
        return headers, json.dumps(data).encode()


@dataclass
class Mix:
    events: list[Event]
    devices: dict[str, list[str]]      # uid -> device tokens of users who must be told once
    marked_uids: list[str]             # subjects already notified before the load (to pre-mark)

    def expected_pushes(self) -> Counter:
        return Counter(tok for toks in self.devices.values() for tok in toks)

    def counts(self) -> Counter:
        return Counter(e.kind for e in self.events)


def mix(total: int = 10_000, new_fraction: float = 0.01, not_actionable_fraction: float = 0.2,
        poison_fraction: float = 0.1, marked_users: int = 500, seed: int = 8, tag: str | None = None) -> Mix:
    """The event mix; duplicates fill what the other kinds leave."""
    rng = random.Random(seed)
    tag = tag or uuid.uuid4().hex[:6]
    n_new = max(1, round(total * new_fraction))
    n_na = round(total * not_actionable_fraction)
    n_poison = round(total * poison_fraction)
    n_dup = total - n_new - n_na - n_poison
    new_uids = [f"load-{tag}-new-{i}" for i in range(n_new)]
    devices = {uid: [f"tok-{uid}-phone"] + ([f"tok-{uid}-tablet"] if i % 4 == 0 else [])
               for i, uid in enumerate(new_uids)}
    marked = [f"load-{tag}-old-{i}" for i in range(marked_users)]
    events: list[Event] = []
    reason_error = [QUOTA, INVALID_KEY]
    for i, uid in enumerate(new_uids):
        events.append(Event("new", uuid.uuid4().hex, error_event(uid, reason_error[i % 2]), uid))
    # duplicates: mostly broken keys already notified, the rest repeats of this load's new subjects;
    # the repeats go in the second half so the "new" event is usually, not always, the first
    rest: list[Event] = []
    for j in range(n_dup):
        if j % 5 == 0:
            i = rng.randrange(n_new)
            rest.append(Event("duplicate", uuid.uuid4().hex, error_event(new_uids[i], reason_error[i % 2]),
                              new_uids[i]))
        else:
            uid = rng.choice(marked)
            rest.append(Event("duplicate", uuid.uuid4().hex, error_event(uid, QUOTA), uid))
    for j in range(n_na):
        uid = rng.choice(new_uids + marked)
        rest.append(Event("not_actionable", uuid.uuid4().hex, error_event(uid, NOT_ACTIONABLE[j % 4]), uid))
    for j in range(n_poison):
        rest.append(Event("poison", uuid.uuid4().hex, POISON[j % len(POISON)]))
    events.extend(rest)
    rng.shuffle(events)
    return Mix(events, devices, marked)


def seed(mix_: Mix, db, redis_client, window_seconds: int = 86400) -> None:
    """Devices of the users to tell in Firestore; the already-notified subjects' marks in Redis."""
    from functions import dedup

    batch = db.batch()
    n = 0
    for uid, tokens in mix_.devices.items():
        for k, tok in enumerate(tokens):
            batch.set(db.document(f"users/{uid}/fcm_tokens/device{k}"), {"token": tok})
            n += 1
            if n % 400 == 0:
                batch.commit()
                batch = db.batch()
    batch.commit()
    pipe = redis_client.pipeline(transaction=False)
    for uid in mix_.marked_uids:
        pipe.set(dedup.Subject(uid, "openai", "quota_exhausted").key, dedup.mark_value("sent", "before-load", window_seconds),
                 ex=window_seconds)
    pipe.execute()


@dataclass
class Load:
    """Post events from `senders` threads with Pub/Sub-like redelivery; run() blocks, start() does not."""

    url: str
    events: list[Event]
    senders: int = 16
    min_backoff: float = 0.2
    max_backoff: float = 2.0
    timeout: float = 30.0
    deadline_seconds: float = 600.0
    acked: int = 0
    attempts: int = 0
    failures: Counter = field(default_factory=Counter)   # non-2xx statuses and exceptions, by name
    unacked: list[Event] = field(default_factory=list)
    elapsed: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def _worker(self, mine: list[Event], deadline: float) -> None:
        session = requests.Session()
        todo: deque = deque((e, 0.0, self.min_backoff) for e in mine)
        waiting: list = []  # (due, event, next backoff)
        while todo or waiting:
            now = time.monotonic()
            if now > deadline:
                with self._lock:
                    self.unacked.extend([e for e, _, _ in todo] + [e for _, e, _ in waiting])
                return
            due = [w for w in waiting if w[0] <= now]
            if due:
                waiting = [w for w in waiting if w[0] > now]
                todo.extendleft((e, 0.0, b) for _, e, b in due)
            if not todo:
                time.sleep(min(0.05, max(0.0, min(w[0] for w in waiting) - now)))
                continue
            event, _, backoff = todo.popleft()
            headers, body = event.cloudevent()
            try:
                resp = session.post(self.url, data=body, headers=headers, timeout=self.timeout)
                ok, why = 200 <= resp.status_code < 300, str(resp.status_code)
            except requests.RequestException as exc:
                ok, why = False, type(exc).__name__
                session = requests.Session()
            with self._lock:
                self.attempts += 1
                if ok:
                    self.acked += 1
                else:
                    self.failures[why] += 1
            if not ok:
                waiting.append((time.monotonic() + backoff, event, min(backoff * 2, self.max_backoff)))

    def run(self) -> "Load":
        start = time.monotonic()
        deadline = start + self.deadline_seconds
        chunks = [self.events[i::self.senders] for i in range(self.senders)]
        threads = [threading.Thread(target=self._worker, args=(c, deadline), daemon=True) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.monotonic() - start
        return self

    def start(self) -> "Load":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> "Load":
        assert self._thread is not None
        self._thread.join(timeout)
        return self

    def wait_for_acked(self, n: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.acked} of {n} events acknowledged in {timeout:.0f} s")
            time.sleep(0.01)


def check(expected: Counter, delivered_tokens: list[str]) -> list[str]:
    """Problems with what was delivered: missing, extra, or repeated pushes (empty when exact)."""
    got = Counter(delivered_tokens)
    problems = []
    missing = sorted(t for t in expected if got[t] == 0)
    extra = sorted(t for t in got if t not in expected)
    repeated = sorted(f"{t} x{got[t]}" for t in expected if got[t] > 1)
    if missing:
        problems.append(f"{len(missing)} expected pushes never delivered, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} pushes to devices that should not have been told, e.g. {extra[:3]}")
    if repeated:
        problems.append(f"{len(repeated)} devices told more than once, e.g. {repeated[:3]}")
    return problems


def delivered_tokens(fcm_server) -> list[str]:
    return [m["message"].get("token") or m["message"].get("fid") for m in fcm_server.delivered()]


def outcomes(log_path: Path) -> Counter:
    """The notifier's outcome per event, from its JSON log lines."""
    tally: Counter = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"outcome"' in line:
            try:
                tally[json.loads(line)["outcome"]] += 1
            except (ValueError, KeyError):
                pass
    return tally
