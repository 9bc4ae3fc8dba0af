"""The in-app status document `users/{uid}/byok_status/{provider}`, for a banner the app can show.

Fields: `provider`, `reason` (current), `first_seen`, `last_seen`, `count` (failures seen),
`notified_at` (last push), `muted` (the last alert was muted by the user's preference).

Writes stay off the duplicate path: the lease holder (one event per subject and window) writes the
document together with its delivery, and duplicates are only counted in memory and flushed at most
once per `STATUS_FLUSH_SECONDS` per subject and instance. So `count` and `last_seen` may lag by up to
that interval (and lose what an instance had not flushed when it stopped); the reason and the
notification time are always exact.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any


def ref(db, collection: str, uid: str, provider: str):
    return db.collection("users").document(uid).collection(collection).document(provider)


def record(db, collection: str, uid: str, provider: str, reason: str, previous: dict | None,
           notified: bool, muted: bool, reminder_gap_seconds: int, extra_count: int = 0) -> None:
    """Write the status after a delivery decision; the problem keeps its `first_seen` while it lasts."""
    from google.cloud import firestore

    now = datetime.now(timezone.utc)
    ongoing = since(previous, reason, now, reminder_gap_seconds, require_notified=False)
    fields: dict[str, Any] = {
        "provider": provider, "reason": reason, "last_seen": firestore.SERVER_TIMESTAMP,
        "first_seen": ongoing or firestore.SERVER_TIMESTAMP, "muted": muted,
        "count": firestore.Increment(1 + extra_count) if ongoing else 1 + extra_count,
    }
    if notified:
        fields["notified_at"] = firestore.SERVER_TIMESTAMP
    elif not ongoing:
        fields["notified_at"] = None
    ref(db, collection, uid, provider).set(fields, merge=True)


def since(previous: dict | None, reason: str, now: datetime, gap_seconds: int,
          require_notified: bool = True) -> datetime | None:
    """When the same problem began, if `previous` shows it still going on (seen within `gap_seconds`)."""
    if not previous or previous.get("reason") != reason:
        return None
    first, last = previous.get("first_seen"), previous.get("last_seen")
    if not isinstance(first, datetime) or not isinstance(last, datetime):
        return None
    if (now - last).total_seconds() > gap_seconds:
        return None  # an old, forgotten problem: this is a new one
    if require_notified and not isinstance(previous.get("notified_at"), datetime):
        return None
    return first


def clear(db, collection: str, uid: str, provider: str) -> None:
    ref(db, collection, uid, provider).delete()


class DuplicateCounter:
    """Counts suppressed duplicates per (uid, provider) in memory; says when a flush is due.

    Bounded: past `max_subjects` the oldest entries are dropped (their counts are lost, which only
    makes `count` a lower bound).
    """

    def __init__(self, max_subjects: int = 10000) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[tuple[str, str], list] = OrderedDict()
        self._max = max_subjects

    def add(self, uid: str, provider: str, interval: float) -> int:
        """Count one duplicate; returns the count to flush now, or 0."""
        key = (uid, provider)
        now = time.monotonic()
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                if len(self._pending) >= self._max:
                    self._pending.popitem(last=False)
                entry = self._pending[key] = [0, now]
            entry[0] += 1
            if now - entry[1] < interval:
                return 0
            count = entry[0]
            del self._pending[key]
            return count

    def take(self, uid: str, provider: str) -> int:
        """Hand over what is pending for a subject (the lease holder writes it with its own update)."""
        with self._lock:
            entry = self._pending.pop((uid, provider), None)
        return entry[0] if entry else 0


def flush_duplicates(db, collection: str, uid: str, provider: str, count: int) -> None:
    """Add counted duplicates to an existing status document (never creates one)."""
    from google.api_core import exceptions as gexc
    from google.cloud import firestore

    try:
        ref(db, collection, uid, provider).update({"count": firestore.Increment(count),
                                                   "last_seen": firestore.SERVER_TIMESTAMP})
    except gexc.NotFound:
        pass  # cleared by a recovery meanwhile
