"""Sending the push through FCM with firebase-admin, and what each per-device failure means.

Failures are classified by exception class, not by `.code` (which is the canonical code, e.g.
NOT_FOUND for an unregistered token):
    dead       the token will never work again: mark it (UNREGISTERED, SENDER_ID_MISMATCH,
               INVALID_ARGUMENT about the registration token)
    transient  try again later (quota, unavailable, internal, timeouts, anything unknown)
    config     the token is fine, our project is not (APNs/web push auth, our own payload bug):
               never mark, retry so the push goes out once an operator fixes it
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable

from ..tokens import Target

BATCH = 500  # send_each's limit

warnings.filterwarnings("ignore", message=r"Message\.token is deprecated", category=DeprecationWarning)


@dataclass(frozen=True)
class Delivery:
    """The fate of one target: accepted, dead, transient or config; `code` names the FCM error."""

    target: Target
    status: str
    code: str | None = None


def failure_kind(exc: BaseException | None) -> tuple[str, str | None]:
    """Map a firebase-admin send exception to (status, code)."""
    from firebase_admin import exceptions as fx
    from firebase_admin import messaging

    if exc is None:
        return "accepted", None
    if isinstance(exc, messaging.UnregisteredError):
        return "dead", "UNREGISTERED"
    if isinstance(exc, messaging.SenderIdMismatchError):
        return "dead", "SENDER_ID_MISMATCH"
    if isinstance(exc, messaging.ThirdPartyAuthError):
        return "config", "THIRD_PARTY_AUTH_ERROR"
    if isinstance(exc, fx.InvalidArgumentError):
        text = str(exc).lower()
        if "registration token" in text or "installation id" in text or "invalid token" in text:
            return "dead", "INVALID_ARGUMENT"
        return "config", "INVALID_ARGUMENT"
    if isinstance(exc, messaging.QuotaExceededError):
        return "transient", "QUOTA_EXCEEDED"
    if isinstance(exc, fx.FirebaseError):
        return "transient", str(exc.code)
    return "transient", type(exc).__name__


def build_message(target: Target, title: str, body: str, data: dict[str, str], collapse_key: str,
                  thread: str | None = None):
    """One FCM message: notification for the system tray, data for the app, one slot per subject.

    On Android only `notification.tag` replaces a notification already shown; `collapse_key` only
    collapses messages FCM has not delivered yet, so both are set. On iOS `apns-collapse-id`
    replaces a shown alert and `thread-id` groups a provider's alerts. FCM refuses any data value
    that is not a string, so that is checked here rather than discovered as a 400 per device.
    """
    from firebase_admin import messaging

    bad = sorted(k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, str))
    if bad:
        raise TypeError(f"FCM data values must be strings: {', '.join(map(str, bad))}")
    kwargs = {target.kind: target.value}
    return messaging.Message(
        notification=messaging.Notification(title=title, body=body),
        data=data,
        android=messaging.AndroidConfig(collapse_key=collapse_key, priority="high",
                                        notification=messaging.AndroidNotification(tag=collapse_key)),
        apns=messaging.APNSConfig(headers={"apns-collapse-id": collapse_key},
                                  payload=messaging.APNSPayload(aps=messaging.Aps(thread_id=thread))
                                  if thread else None),
        **kwargs,
    )


def send(app, targets: Iterable[Target], title: str, body: str, data: dict[str, str],
         collapse_key: str, thread: str | None = None) -> list[Delivery]:
    """Send to every target, at most 500 per send_each call; never raises for a failed send."""
    from firebase_admin import messaging

    targets = list(targets)
    results: list[Delivery] = []
    for start in range(0, len(targets), BATCH):
        chunk = targets[start:start + BATCH]
        messages = [build_message(t, title, body, data, collapse_key, thread) for t in chunk]
        try:
            batch = messaging.send_each(messages, app=app)
        except Exception as exc:  # noqa: BLE001 - the whole call failed: every target is transient
            results.extend(Delivery(t, "transient", type(exc).__name__) for t in chunk)
            continue
        for target, response in zip(chunk, batch.responses):
            status, code = failure_kind(None if response.success else response.exception)
            results.append(Delivery(target, status, code))
    return results
