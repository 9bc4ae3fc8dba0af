"""The notifier's core: one error event in, at most one push per subject and window out.

Order matters for cost: validate and classify (no I/O), then one Redis command that either takes
the delivery lease or suppresses the event, and only the lease holder reads Firestore and calls
FCM. See dedup.py for the protocol and README.md for the outcomes.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from . import clients, config, dedup, fcm, logs, tokens
from .classify import classify
from .event import ErrorEvent, InvalidEvent, parse_event, unwrap_pubsub

FUNCTION = "notify_byok_llm_error"
PAYLOAD_TYPE = "byok_llm_error"


class RetryLater(Exception):
    """Raised to make Pub/Sub redeliver the event (functions-framework answers 500)."""


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

    reason = classify(event.provider, event.error)
    if reason is None:
        err = event.error
        logs.info("error is not actionable for the user", **base, outcome="not_actionable",
                  status_code=err.get("status_code") if type(err.get("status_code")) is int else None,
                  error_type=_short(err.get("type")), error_code=_short(err.get("code")))
        return "not_actionable"

    subject = dedup.Subject(event.uid, event.provider, reason, event.key_fingerprint)
    lease = dedup.lease_value(event.event_id)
    redis = clients.redis_client()
    try:
        verdict, _held = dedup.acquire(redis, subject, lease, cfg.delivery_lease_seconds, event.event_id)
    except Exception as exc:  # Redis unreachable: never send unguarded
        _retry(base, reason, "redis_unavailable", exc)
    if verdict is dedup.Acquired.DUPLICATE:
        logs.info("duplicate suppressed", **base, reason=reason, outcome="suppressed")
        return "suppressed"
    if verdict is dedup.Acquired.OWN_EARLIER:
        _retry(base, reason, "earlier_attempt_holds_lease", None)

    return _deliver(event, reason, subject, lease, redis, cfg, base, started)


def _deliver(event: ErrorEvent, reason: str, subject: dedup.Subject, lease: bytes, redis,
             cfg: config.Config, base: dict, started: float) -> str:
    from .messages import render

    try:
        targets = tokens.read_targets(clients.firestore_client(), event.uid, cfg.firestore_timeout_seconds)
    except Exception as exc:  # Firestore unreachable: give the lease back, retry later
        _release(redis, subject, lease, base)
        _retry(base, reason, "firestore_unavailable", exc)

    if not targets:
        _settle(redis, subject, lease, "no_targets", event.event_id, cfg.no_target_window_seconds, base)
        logs.info("no push targets for the user", **base, reason=reason, outcome="no_targets", targets=0,
                  latency_ms=_ms(started))
        return "no_targets"

    note = render(event.provider, reason)
    data = {"type": PAYLOAD_TYPE, "provider": event.provider, "reason": reason,
            "provider_name": note.provider_name, "action_url": note.action_url or ""}
    deliveries = fcm.send(clients.firebase_app(), targets, note.title, note.body, data,
                          collapse_key=f"byok_{event.provider}_{reason}")
    counts = {s: sum(1 for d in deliveries if d.status == s) for s in ("accepted", "dead", "transient", "config")}

    marked = []
    if counts["dead"]:
        db = clients.firestore_client()
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
        _settle(redis, subject, lease, "sent", event.event_id, cfg.dedup_window_seconds, base)
        logs.info("push sent", **base, reason=reason, outcome="sent", latency_ms=_ms(started), **tally)
        return "sent"
    if counts["transient"] == 0 and counts["config"] == 0:
        _settle(redis, subject, lease, "no_targets", event.event_id, cfg.no_target_window_seconds, base)
        logs.info("every push target is dead", **base, reason=reason, outcome="no_targets",
                  latency_ms=_ms(started), **tally)
        return "no_targets"
    _release(redis, subject, lease, base)
    codes = sorted({d.code or "" for d in deliveries if d.status in ("transient", "config")})
    severity = "ERROR" if counts["config"] else "WARNING"
    logs.log(severity, "push not delivered: will retry", **base, reason=reason, outcome="retry",
             cause="fcm_" + ("config" if counts["config"] else "transient"), fcm_errors=codes, **tally)
    raise RetryLater(f"FCM did not accept the push ({', '.join(codes)})")


def _settle(redis, subject, lease, outcome, event_id, ttl, base) -> None:
    try:
        if not dedup.settle(redis, subject, lease, outcome, event_id, ttl):
            logs.warning("another delivery took over the lease", **base, outcome_detail="lease_lost")
    except Exception as exc:  # noqa: BLE001 - the push went out; a retry would send it twice
        logs.error("could not record the delivery in Redis; a later event may notify again",
                   **base, error=type(exc).__name__)


def _release(redis, subject, lease, base) -> None:
    try:
        dedup.release(redis, subject, lease)
    except Exception as exc:  # noqa: BLE001 - the lease expires by itself
        logs.warning("could not release the lease; it will expire", **base, error=type(exc).__name__)


def _retry(base: dict, reason: str, cause: str, exc: BaseException | None):
    logs.warning("dependency unavailable: will retry", **base, reason=reason, outcome="retry", cause=cause,
                 error=type(exc).__name__ if exc else None)
    raise RetryLater(cause) from exc


def _short(value: Any) -> str | None:
    return value[:120] if isinstance(value, str) else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
