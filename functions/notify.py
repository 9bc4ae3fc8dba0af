"""The notifier's core: one error event in, at most one delivery per subject and window out.

Order matters for cost: validate and classify (no I/O), then one Redis command that either takes
the delivery lease or suppresses the event, and only the lease holder reads Firestore and delivers:
a push through FCM (channels/push.py) and/or an email document (channels/email.py). In
DELIVERY_MODE=shadow the delivery is only logged. See dedup.py for the protocol and README.md for
the outcomes.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from . import clients, config, dedup, logs, providers, status, surge, tokens
from .channels import email, push
from .classify import explain_cached
from .event import ErrorEvent, InvalidEvent, parse_event, unwrap_pubsub
from .verification import apply as apply_verification
from .verification import for_provider as verification_for

MALFORMED_KEY = "verification:key_malformed"
MISDIRECTED_KEY = "verification:key_misdirected"

FUNCTION = config.NOTIFIER
PAYLOAD_TYPE = "byok_llm_error"


class RetryLater(Exception):
    """Raised to make Pub/Sub redeliver the event (functions-framework answers 500)."""


_DUPLICATES = status.DuplicateCounter()


def handle_pubsub_event(event_id: str, data: Any) -> str:
    """Entry for a Pub/Sub messagePublished CloudEvent; returns the outcome, raises RetryLater."""
    started = time.perf_counter()
    cfg = config.get()
    try:
        raw, publish_time, attributes = unwrap_pubsub(data)
        event = parse_event(event_id, raw, publish_time, cfg.max_event_bytes, attributes)
    except InvalidEvent as exc:
        logs.warning("invalid event: acknowledged without action", function=FUNCTION, event_id=event_id,
                     outcome="invalid_event", problem=str(exc))
        return "invalid_event"
    return handle_event(event, cfg, started)


def handle_event(event: ErrorEvent, cfg: config.Config | None = None, started: float | None = None) -> str:
    """Classify, deduplicate and deliver one validated event."""
    cfg = cfg or config.get()
    started = started or time.perf_counter()
    base = {"function": FUNCTION, "event_id": event.event_id, "uid": event.uid, "provider": event.provider}

    age = (datetime.now(timezone.utc) - event.occurred_at).total_seconds()
    if age > cfg.max_event_age_seconds:
        logs.info("event too old: acknowledged without a push", **base, outcome="expired",
                  age_seconds=int(age))
        return "expired"
    if event.kind == "recovered":
        return _recover(event, cfg, base)

    verdict = explain_cached(event.provider, event.error)
    verification, host_of, past_base_url = verification_for(event.provider, event.verification)
    reason, decided_by = apply_verification(verdict.reason, verification)  # the provider's own answer
    base = {**base, "rule": verdict.rule, "evidence": verdict.evidence,   # on every later line of this event
            "decided_by": decided_by}
    if event.verification_problem:  # a malformed verification is ignored, not poison
        base["verification_problem"] = event.verification_problem
    if reason is None:
        err = event.error
        status_code = err.get("status_code") if type(err.get("status_code")) is int else None
        if decided_by == MALFORMED_KEY:   # the developers' to fix, for every user of this path at once
            logs.error("the backend sent a mangled key (our platform's bug): nothing to tell the user", **base,
                       outcome="key_malformed", status_code=status_code, classifier_reason=verdict.reason)
            return "key_malformed"
        if decided_by == MISDIRECTED_KEY:   # a secret went to another vendor: the developers' to fix, like the above
            logs.error("the backend sent the user's key to another provider's host (our platform's bug): nothing to "
                       "tell the user", **base, outcome="key_misdirected", host_of=host_of,
                       missed_base_url=past_base_url, status_code=status_code, classifier_reason=verdict.reason)
            return "key_misdirected"
        logs.info("error is not actionable for the user", **base, outcome="not_actionable", status_code=status_code,
                  error_type=_short(err.get("type")), error_code=_short(err.get("code")))
        return "not_actionable"

    subject = dedup.Subject(event.uid, event.provider, reason, event.key_fingerprint,
                            shadow=cfg.delivery_mode == "shadow")
    lease = dedup.lease_value(event.event_id)
    redis = clients.redis_client()
    try:
        acquired, _held = dedup.acquire(redis, subject, lease, cfg.delivery_lease_seconds, event.event_id,
                                       cfg.mark_cache_seconds)
    except Exception as exc:  # Redis unreachable: never send unguarded
        _retry(base, reason, "redis_unavailable", exc)
    if acquired is dedup.Acquired.DUPLICATE:
        logs.info("duplicate suppressed", **base, reason=reason, outcome="suppressed")
        if not subject.shadow:  # shadow writes no status, not even a count
            _count_duplicate(event, cfg, base)
        return "suppressed"
    if acquired is dedup.Acquired.OWN_EARLIER:
        _retry(base, reason, "earlier_attempt_holds_lease", None)
    lease_deadline = time.monotonic() + cfg.delivery_lease_seconds
    if cfg.surge_users and _surge_held(event, reason, verdict.rule, subject, lease, lease_deadline, redis, cfg, base):
        return "held"
    if subject.shadow:
        return _shadow(event, reason, subject, lease, lease_deadline, redis, cfg, base, started)
    return _deliver(event, reason, subject, lease, lease_deadline, redis, cfg, base, started)


def _surge_held(event: ErrorEvent, reason: str, rule: str | None, subject: dedup.Subject, lease: bytes,
                lease_deadline: float, redis, cfg: config.Config, base: dict) -> bool:
    """Past SURGE_USERS users failing the same way in a window: hold, tell no one (surge.py says why).

    The hold is a mark for one window, so the user's failures meanwhile are duplicates and the first one
    after it is judged again; no status is written, since the in-app banner is an alarm too.
    """
    try:
        seen = surge.count(redis, event.provider, reason, rule, event.uid, cfg.surge_window_seconds, subject.shadow,
                           at=event.occurred_at.timestamp())
    except Exception as exc:  # Redis unreachable: never send unguarded
        _release(redis, subject, lease, base)
        _retry(base, reason, "redis_unavailable", exc)
    if not seen.holds(cfg.surge_users):
        return False
    _settle(redis, subject, lease, "held", event.event_id, cfg.surge_window_seconds, lease_deadline, cfg, base)
    logs.error("many users' keys failed the same way at once: held, no user told (likely our platform or the "
               "provider)", **base, reason=reason, outcome="held", surge_users=seen.users,
               surge_threshold=cfg.surge_users, surge_window_seconds=cfg.surge_window_seconds)
    return True


def _deliver(event: ErrorEvent, reason: str, subject: dedup.Subject, lease: bytes, lease_deadline: float,
             redis, cfg: config.Config, base: dict, started: float) -> str:
    """Push to the user's devices and/or email them, under the lease; then mark, or release and retry.

    Email is a delivery like a push. With EMAIL_MODE=always it is written *before* the push, so a
    failed write is retried before anything went out; with `fallback` it is written only when no
    device can take the push (none, or all dead). A transient push failure is retried, not emailed.
    """
    from .messages import render

    db = clients.firestore_client()
    status_ref = status.ref(db, cfg.status_collection, event.uid, event.provider) if cfg.status_collection else None
    try:
        recipient = tokens.read_recipient(db, event.uid, status_ref, cfg.firestore_timeout_seconds)
    except Exception as exc:  # Firestore unreachable: give the lease back, retry later
        _release(redis, subject, lease, base)
        _retry(base, reason, "firestore_unavailable", exc)
    targets, profile = recipient.targets, recipient.profile
    other = _not_the_users_key(profile, event, cfg)
    if other is not None:
        return _other_key(other, event, reason, subject, lease, lease_deadline, redis, cfg, base, started)
    mailed: dict[str, Any] = {}

    def finish(outcome: str, ttl: int, message: str, notified: bool = False, muted: bool = False, **fields) -> str:
        _settle(redis, subject, lease, outcome, event.event_id, ttl, lease_deadline, cfg, base)
        _record_status(db, cfg, event, reason, recipient.status, notified, muted, base)
        logs.info(message, **base, reason=reason, outcome=outcome, latency_ms=_ms(started), **mailed, **fields)
        return outcome

    if _muted(profile.get(cfg.user_mute_field), event.provider):
        return finish("muted", cfg.dedup_window_seconds, "user muted these alerts: status updated, no push",
                      muted=True, targets=len(targets))

    lang = profile.get(cfg.user_language_field)
    since = status.since(recipient.status, reason, datetime.now(timezone.utc), 2 * cfg.dedup_window_seconds) \
        if cfg.reminders else None
    note = render(event.provider, reason, lang, since=since)

    def send_email() -> None:
        mailed.update(_email(db, event, subject, lease, note, profile, redis, cfg, base, reason))

    def without_push(why: str, **fields) -> str:
        """No device can take the push (none, or every one dead): the email fallback, else a short mark."""
        if cfg.email_mode == "fallback":
            send_email()
        if mailed.get("emails"):
            return finish("emailed", cfg.dedup_window_seconds, f"email written: {why}", notified=True,
                          language=note.lang, **fields)
        return finish("no_targets", cfg.no_target_window_seconds, why, **fields)

    if cfg.email_mode == "always":
        send_email()
    if not targets:
        return without_push("the user has no push target", targets=0)

    data = {"type": PAYLOAD_TYPE, "provider": event.provider, "reason": reason,
            "provider_name": note.provider_name, "action_url": note.action_url or "",
            "reminder": "true" if since else "false", "since": since.isoformat() if since else "",
            "lang": note.lang}
    if cfg.deep_link_template:
        data[cfg.push_link_field] = cfg.deep_link_template.replace("{provider}", event.provider) \
            .replace("{reason}", reason)
    deliveries = push.send(clients.firebase_app(), targets, note.title, note.body, data,
                           collapse_key=f"byok_{event.provider}_{reason}", thread=f"byok_{event.provider}")
    counts = {s: sum(1 for d in deliveries if d.status == s) for s in ("accepted", "dead", "transient", "config")}

    marked = []
    for d in deliveries:
        if d.status == "dead":
            try:
                marked.extend(tokens.mark_invalid(db, d.target, d.code or "UNREGISTERED",
                                                  cfg.firestore_timeout_seconds))
            except Exception as exc:  # noqa: BLE001 - found dead again on the next push
                logs.warning("could not mark a dead token", **base, error=type(exc).__name__)
    tally = dict(targets=len(targets), accepted=counts["accepted"], dead=counts["dead"],
                 transient=counts["transient"], failed=counts["config"],
                 devices_marked=[f"{dev}:{res}" for dev, res in marked] or None)

    if counts["accepted"]:
        return finish("sent", cfg.dedup_window_seconds, "push sent", notified=True, reminder=bool(since),
                      language=note.lang, **tally)
    if counts["transient"] == 0 and counts["config"] == 0:
        return without_push("every push target is dead", **tally)
    _release(redis, subject, lease, base)
    codes = sorted({d.code or "" for d in deliveries if d.status in ("transient", "config")})
    severity = "ERROR" if counts["config"] else "WARNING"
    logs.log(severity, "push not delivered: will retry", **base, reason=reason, outcome="retry",
             cause="fcm_" + ("config" if counts["config"] else "transient"), fcm_errors=codes, **mailed, **tally)
    raise RetryLater(f"FCM did not accept the push ({', '.join(codes)})")


def _address(profile: dict, uid: str, cfg: config.Config) -> email.Address:
    """The user's address, from their profile field or their verified Firebase Auth account."""
    if cfg.email_source == "auth":
        return email.from_auth(clients.firebase_app(), uid)
    return email.from_profile(profile, cfg.user_email_field)


def _email(db, event: ErrorEvent, subject: dedup.Subject, lease: bytes, note, profile: dict, redis,
           cfg: config.Config, base: dict, reason: str) -> dict[str, Any]:
    """Write the user's email document; fields for the log line. A failure releases the lease and retries."""
    try:
        address = _address(profile, event.uid, cfg)
    except Exception as exc:  # Auth unreachable: the email may be the only way to reach the user
        _release(redis, subject, lease, base)
        _retry(base, reason, "auth_unavailable", exc)
    if address.email is None:
        return {"emails": 0, "email": address.problem}
    document = email.compose(address.email, note)
    try:
        created = email.write(db, cfg.email_collection, email.document_id(subject.key, event.event_id), document,
                              cfg.firestore_timeout_seconds)
    except Exception as exc:  # nothing was written: give the lease back, retry later
        _release(redis, subject, lease, base)
        _retry(base, reason, "email_write_failed", exc)
    return {"emails": 1, "email": "written" if created else "already_written"}


def _shadow(event: ErrorEvent, reason: str, subject: dedup.Subject, lease: bytes, lease_deadline: float,
            redis, cfg: config.Config, base: dict, started: float) -> str:
    """DELIVERY_MODE=shadow: everything up to the delivery, which is only logged (`would_send`).

    Reads the targets like a live delivery (so their cost and count are real), but sends nothing,
    marks no token, writes no status or email. The mark it leaves lives in the shadow key space.
    """
    db = clients.firestore_client()
    try:
        recipient = tokens.read_recipient(db, event.uid, None, cfg.firestore_timeout_seconds)
    except Exception as exc:
        _release(redis, subject, lease, base)
        _retry(base, reason, "firestore_unavailable", exc)
    other = _not_the_users_key(recipient.profile, event, cfg)
    if other is not None:
        return _other_key(other, event, reason, subject, lease, lease_deadline, redis, cfg, base, started)
    muted = _muted(recipient.profile.get(cfg.user_mute_field), event.provider)
    targets = len(recipient.targets)
    would_email: bool | None = False
    email_note = None
    if not muted and (cfg.email_mode == "always" or (cfg.email_mode == "fallback" and not targets)):
        try:
            address = _address(recipient.profile, event.uid, cfg)
            would_email, email_note = address.email is not None, address.problem
        except Exception as exc:  # noqa: BLE001 - a shadow run reports, it does not retry for this
            would_email, email_note = None, f"auth_unavailable:{type(exc).__name__}"
    would_push = targets > 0 and not muted
    told = would_push or bool(would_email) or muted
    _settle(redis, subject, lease, "would_send", event.event_id,
            cfg.dedup_window_seconds if told else cfg.no_target_window_seconds, lease_deadline, cfg, base)
    logs.info("shadow mode: would deliver, sent nothing", **base, reason=reason, outcome="would_send",
              targets=targets, would_push=would_push, would_email=would_email, email=email_note, muted=muted,
              latency_ms=_ms(started))
    return "would_send"


def _recorded_keys(profile: dict, cfg: config.Config) -> dict[str, list[str]]:
    """Provider slug -> the fingerprints of the keys the user saved for it (USER_KEY_FINGERPRINTS_FIELD), empty
    records left out."""
    record = profile.get(cfg.user_key_fingerprints_field) if cfg.user_key_fingerprints_field else None
    if not isinstance(record, dict):
        return {}
    keys = {}
    for slug, fingerprints in record.items():
        fingerprints = [fingerprints] if isinstance(fingerprints, str) else fingerprints
        if isinstance(slug, str) and isinstance(fingerprints, list):
            kept = [fp for fp in fingerprints if isinstance(fp, str) and fp]
            if kept:
                keys[slug] = kept
    return keys


def _not_the_users_key(profile: dict, event: ErrorEvent, cfg: config.Config) -> tuple[str, str | None] | None:
    """Whether the failing key is one the user's record shows is not theirs for this provider: ("superseded", None)
    when the record names their current key for it and the event's is another (a key they replaced, a stale or
    wrong key the backend sent); ("misrouted", slug) when the event's key is the one they saved for another,
    separate provider (the backend sent it to the wrong provider). None when the record cannot tell."""
    if event.key_fingerprint is None:
        return None
    keys = _recorded_keys(profile, cfg)
    current = keys.get(event.provider)
    if current is not None and event.key_fingerprint in current:
        return None
    for slug, fingerprints in keys.items():
        if event.key_fingerprint in fingerprints and providers.registry().separate(event.provider, slug):
            return "misrouted", slug
    # nothing recorded for this provider: the failing key may well be the user's
    return ("superseded", None) if current is not None else None


def _other_key(other: tuple[str, str | None], event: ErrorEvent, reason: str, subject: dedup.Subject, lease: bytes,
               lease_deadline: float, redis, cfg: config.Config, base: dict, started: float) -> str:
    """A failure of a key that is not the user's for this provider: nothing to tell the user, no in-app status; the
    key's subject is marked for the window, so its later failures cost one Redis command. A key the user replaced
    or the backend should not be sending is a WARNING; the user's key for another provider sent to this one is an
    ERROR, the backend's routing bug that also hands a secret to the wrong provider."""
    kind, saved_for = other
    _settle(redis, subject, lease, kind, event.event_id, cfg.dedup_window_seconds, lease_deadline, cfg, base)
    if kind == "misrouted":
        logs.error("the failing key is the one the user saved for another provider: the backend sent it to the "
                   "wrong provider; nothing to tell the user", **base, reason=reason, outcome="misrouted_key",
                   saved_for=saved_for, latency_ms=_ms(started))
        return "misrouted_key"
    logs.warning("the failing key is not the user's current key: nothing to tell the user (a key they replaced, "
                 "or the backend sending a stale one)", **base, reason=reason, outcome="superseded_key",
                 latency_ms=_ms(started))
    return "superseded_key"


def _muted(preference: Any, provider: str) -> bool:
    """`true` mutes every provider; a list of provider slugs mutes those."""
    if preference is True:
        return True
    return isinstance(preference, (list, tuple)) and provider in preference


def _record_status(db, cfg: config.Config, event: ErrorEvent, reason: str, previous: dict | None,
                   notified: bool, muted: bool, base: dict) -> None:
    if not cfg.status_collection:
        return
    try:
        status.record(db, cfg.status_collection, event.uid, event.provider, reason, previous, notified, muted,
                      2 * cfg.dedup_window_seconds, _DUPLICATES.take(event.uid, event.provider))
    except Exception as exc:  # noqa: BLE001 - the push decision stands; the banner catches up next time
        logs.warning("could not update the in-app status", **base, error=type(exc).__name__)


def _count_duplicate(event: ErrorEvent, cfg: config.Config, base: dict) -> None:
    """Duplicates are counted in memory; one write per subject and flush interval, not per event."""
    if not cfg.status_collection or not cfg.status_flush_seconds:
        return
    pending = _DUPLICATES.add(event.uid, event.provider, cfg.status_flush_seconds)
    if pending:
        try:
            status.flush_duplicates(clients.firestore_client(), cfg.status_collection, event.uid,
                                    event.provider, pending)
        except Exception as exc:  # noqa: BLE001 - a lost count, never a lost or extra push
            logs.warning("could not flush the duplicate count", **base, error=type(exc).__name__)


def _recover(event: ErrorEvent, cfg: config.Config, base: dict) -> str:
    """The user's key works again: clear the in-app status and every mark, so a new failure is told."""
    redis = clients.redis_client()
    try:
        known = redis.exists(dedup.index_key(event.uid, event.provider))
    except Exception as exc:
        _retry(base, None, "redis_unavailable", exc)
    if not known:
        logs.info("recovery: nothing to clear", **base, outcome="recovered", cleared=0)
        return "recovered"
    if cfg.status_collection and cfg.delivery_mode == "live":  # shadow writes no status
        try:
            status.clear(clients.firestore_client(), cfg.status_collection, event.uid, event.provider)
        except Exception as exc:
            _retry(base, None, "firestore_unavailable", exc)
    try:
        cleared = dedup.forget(redis, event.uid, event.provider)
    except Exception as exc:
        _retry(base, None, "redis_unavailable", exc)
    _DUPLICATES.take(event.uid, event.provider)
    logs.info("recovery: status and marks cleared", **base, outcome="recovered", cleared=cleared)
    return "recovered"


def _settle(redis, subject: dedup.Subject, lease: bytes, outcome: str, event_id: str, ttl: int,
            deadline: float, cfg: config.Config, base: dict) -> None:
    """Record the delivery. The push already went out, so a Redis outage here is waited out until
    the lease would expire (a retry of the event would send it twice); only then is it given up."""
    pause = 0.1
    while True:
        try:
            if not dedup.settle(redis, subject, lease, outcome, event_id, ttl, cfg.mark_cache_seconds):
                logs.warning("another delivery took over the lease", **base, outcome_detail="lease_lost")
            return
        except Exception as exc:  # noqa: BLE001 - retried below, then logged
            if time.monotonic() + pause >= deadline:
                logs.error("could not record the delivery in Redis; a later event may notify again",
                           **base, error=type(exc).__name__)
                return
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _release(redis, subject, lease, base) -> None:
    try:
        dedup.release(redis, subject, lease)
    except Exception as exc:  # noqa: BLE001 - the lease expires by itself
        logs.warning("could not release the lease; it will expire", **base, error=type(exc).__name__)


def _retry(base: dict, reason: str | None, cause: str, exc: BaseException | None):
    logs.warning("dependency unavailable: will retry", **base, reason=reason, outcome="retry", cause=cause,
                 error=type(exc).__name__ if exc else None)
    raise RetryLater(cause) from exc


def _short(value: Any) -> str | None:
    return value[:120] if isinstance(value, str) else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
