"""Email as a delivery channel: one document for the Firebase "Trigger Email" extension.

The extension (firestore-send-email) watches one collection (EMAIL_COLLECTION, default `mail`) and
sends each new document through the SMTP server given at install time: {to, message: {subject,
text, html}}. Writing that document *is* the send, as far as the notifier can know, so it is
treated like a push accepted by FCM: it happens under the delivery lease and is followed by the mark.

The document id is derived from the subject and the event, and the write is a `create`: a retried
write (the same event redelivered after a timeout whose write had in fact landed) finds the document
and counts it as written, so it can never make a second email.

The text is the push's text in the user's language plus fixed lines from functions/locales/*.json,
HTML-escaped; it names the provider, says what to do and links the provider's page. Never the key,
never the raw error (the texts take nothing from the event but the provider slug).
"""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

from ..messages import Notification, email_texts


@dataclass(frozen=True)
class Address:
    """Where an email would go, or why there is none (`missing`, `unverified`, `no_user`)."""

    email: str | None
    problem: str | None = None


def from_profile(profile: dict, field: str) -> Address:
    """The address in the `users/{uid}` document's `field`, when it looks like one."""
    value = profile.get(field)
    if isinstance(value, str) and _plausible(value.strip()):
        return Address(value.strip())
    return Address(None, "missing")


def from_auth(app, uid: str) -> Address:
    """The user's verified address in Firebase Auth; an unverified one is not used (anyone can type one).

    Raises for an unreachable Auth service, so the caller can retry; a user Auth does not know is
    `no_user`, not an error.
    """
    from firebase_admin import auth

    try:
        user = auth.get_user(uid, app=app)
    except auth.UserNotFoundError:
        return Address(None, "no_user")
    if not user.email or not _plausible(user.email):
        return Address(None, "missing")
    if not user.email_verified:
        return Address(None, "unverified")
    return Address(user.email)


def _plausible(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and len(value) <= 254 and not any(c.isspace() for c in value))


def document_id(subject_key: str, event_id: str) -> str:
    """Deterministic per (subject, event): a retried write of the same delivery hits the same document."""
    return hashlib.sha256(f"{subject_key}\n{event_id}".encode()).hexdigest()[:40]


def compose(to: str, note: Notification) -> dict:
    """The Trigger Email document: subject, plain text and HTML (escaped) in the notification's language."""
    lines = email_texts(note.provider_name, note.lang)
    text = [lines["greeting"], "", note.body, ""]
    if note.action_url:
        text += [f"{lines['action']}: {note.action_url}", ""]
    text += [lines["settings"], "", "--", lines["footer"]]
    e = html.escape
    parts = [f"<p>{e(lines['greeting'])}</p>", f"<p>{e(note.body)}</p>"]
    if note.action_url:
        parts.append(f'<p><a href="{e(note.action_url, quote=True)}">{e(lines["action"])}</a></p>')
    parts += [f"<p>{e(lines['settings'])}</p>", f'<hr><p style="color:#666;font-size:small">{e(lines["footer"])}</p>']
    page = f'<!doctype html><html lang="{e(note.lang)}"><body>{"".join(parts)}</body></html>'
    return {"to": to, "message": {"subject": note.title, "text": "\n".join(text), "html": page}}


def write(db, collection: str, doc_id: str, document: dict, timeout: float) -> bool:
    """Create the mail document; True if created now, False if this same delivery had written it already."""
    from google.api_core import exceptions as gexc
    from google.cloud import firestore

    from ..tokens import bounded_retry

    ref = db.collection(collection).document(doc_id)
    try:
        ref.create({**document, "created_at": firestore.SERVER_TIMESTAMP}, retry=bounded_retry(timeout),
                   timeout=timeout)
    except (gexc.AlreadyExists, gexc.Conflict):
        return False
    return True
