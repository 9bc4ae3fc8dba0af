"""A user's push targets in Firestore, and marking the ones FCM rejects as dead.

Targets are the documents `users/{uid}/fcm_tokens/{device}` (field `fid`, the Firebase
installation id firebase-admin 7 prefers, or `token`, an FCM registration token) plus the legacy
field `users/{uid}.fcm_token`. A document marked invalid is skipped while its `invalid_token` is
still its current value.

A dead document is marked (`invalid`, `invalid_token`, `invalid_reason`, `invalid_at`) in a
transaction that first checks it still holds the rejected value, so a device that re-registered
meanwhile is not marked; the cleanup function deletes marked documents. A dead legacy field has no trigger of its own
(one on every profile write would be wasteful), so it is cleared here directly, in a transaction
that first checks the field still holds the rejected value; `fcm_token_invalid_reason` and
`fcm_token_invalid_at` record why.
"""
from __future__ import annotations

from dataclasses import dataclass, field

USERS = "users"
TOKENS = "fcm_tokens"
LEGACY_FIELD = "fcm_token"


@dataclass(frozen=True)
class Source:
    """Where a target value was read: a token document or the legacy field of the user document."""

    path: str
    legacy: bool = False

    @property
    def device(self) -> str:
        return "(legacy fcm_token)" if self.legacy else self.path.rsplit("/", 1)[-1]


@dataclass
class Target:
    """One FCM destination; the same value may be stored in several places."""

    value: str
    kind: str  # "token" or "fid"
    sources: list[Source] = field(default_factory=list)


def bounded_retry(timeout: float):
    """Retry transient Firestore errors, but give up within `timeout` (the default waits minutes)."""
    from google.api_core import exceptions as gexc
    from google.api_core.retry import Retry

    transient = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError,
                 gexc.Aborted, gexc.TooManyRequests)
    return Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=timeout,
                 predicate=lambda exc: isinstance(exc, transient))


@dataclass
class Recipient:
    """What the notifier needs to know about a user, read in two round trips."""

    targets: list[Target]
    profile: dict          # users/{uid}: language, mute preference, legacy token
    status: dict | None    # users/{uid}/<status collection>/{provider}, when asked for


def read_recipient(db, uid: str, status_ref=None, timeout: float = 10.0) -> Recipient:
    """The user's distinct live push targets, profile and (optionally) status document."""
    retry = bounded_retry(timeout)
    user_ref = db.collection(USERS).document(uid)
    found: dict[str, Target] = {}
    for snap in user_ref.collection(TOKENS).stream(retry=retry, timeout=timeout):
        doc = snap.to_dict() or {}
        for kind in ("fid", "token"):
            value = doc.get(kind)
            if isinstance(value, str) and value.strip():
                if doc.get("invalid") is True and doc.get("invalid_token") == value:
                    break  # marked dead, waiting for the cleanup function
                # (a device that re-registered over a marked document with a merge write is live again)
                target = found.setdefault(value, Target(value, kind))
                target.sources.append(Source(snap.reference.path))
                break
    refs = [user_ref] + ([status_ref] if status_ref is not None else [])
    snaps = {snap.reference.path: snap for snap in db.get_all(refs, retry=retry, timeout=timeout)}
    user = snaps.get(user_ref.path)
    profile = (user.to_dict() or {}) if user is not None and user.exists else {}
    legacy = profile.get(LEGACY_FIELD)
    if isinstance(legacy, str) and legacy.strip():
        target = found.setdefault(legacy, Target(legacy, "token"))
        target.sources.append(Source(user_ref.path, legacy=True))
    status = None
    if status_ref is not None:
        snap = snaps.get(status_ref.path)
        status = (snap.to_dict() or {}) if snap is not None and snap.exists else None
    return Recipient(list(found.values()), profile, status)


def read_targets(db, uid: str, timeout: float = 10.0) -> list[Target]:
    """Every distinct, not-yet-invalid push target of the user."""
    return read_recipient(db, uid, timeout=timeout).targets


def mark_invalid(db, target: Target, reason: str, timeout: float = 10.0) -> list[tuple[str, str]]:
    """Mark every place that still holds a dead target; returns (device, result) pairs for the log.

    Each place is checked and written in one transaction: if the device re-registered (its value
    changed) or the document is gone, it is left alone.
    """
    from google.api_core import exceptions as gexc

    results = []
    for source in target.sources:
        try:
            done = _compare_and_mark(db, db.document(source.path), source, target, reason, timeout)
        except gexc.NotFound:
            done = False
        results.append((source.device, ("cleared" if source.legacy else "marked") if done else "changed"))
    return results


def _compare_and_mark(db, ref, source: Source, target: Target, reason: str, timeout: float) -> bool:
    from google.cloud import firestore

    @firestore.transactional
    def run(transaction) -> bool:
        snap = ref.get(transaction=transaction, retry=bounded_retry(timeout), timeout=timeout)
        doc = (snap.to_dict() or {}) if snap.exists else {}
        if source.legacy:
            if doc.get(LEGACY_FIELD) != target.value:
                return False
            transaction.update(ref, {LEGACY_FIELD: firestore.DELETE_FIELD,
                                     "fcm_token_invalid_reason": reason,
                                     "fcm_token_invalid_at": firestore.SERVER_TIMESTAMP})
            return True
        if doc.get(target.kind) != target.value or \
                (doc.get("invalid") is True and doc.get("invalid_token") == target.value):
            return False
        transaction.update(ref, {"invalid": True, "invalid_token": target.value,
                                 "invalid_reason": reason, "invalid_at": firestore.SERVER_TIMESTAMP})
        return True

    return run(db.transaction())
