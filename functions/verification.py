"""The provider's own answer, when the reporter asked it, over the classifier's reading of the text.

The reporter (byok_reporter) probes the provider with the user's key after an auth, billing or
quota failure and sends the verdict in the event's `verification`. A verdict is evidence about the
key itself, stronger than any error text, but only about what it read:
- key_rejected: the provider refused the key on an authenticated read -> invalid_key, whatever the
  text said (a bare 403 "Forbidden", an unclear wrapper message).
- key_works: the key authenticates -> never invalid_key. It still may lack credit or access to
  one model, so the classifier's permission_denied and quota_exhausted stand.
- has_credit: the key authenticates and its balance or limit has room -> neither invalid_key nor
  quota_exhausted (a 402 then came from somewhere else: a per-request price cap, a model's own
  limit); permission_denied stands.
- no_credit: the key authenticates and its balance is spent -> quota_exhausted.
- key_malformed: the reporter saw, without asking anyone, that the key the backend sent was mangled
  (quoted, `undefined`, a serialized list, the auth scheme twice): whatever the provider answered is
  about that value, not the user's key, so nothing is actionable for the user (our platform's bug;
  the notifier logs it as an error).
- key_misdirected: the failed call went to another provider's official host (named in the probe field,
  `LOCAL /host/<provider>`): what that host answered is about a key sent to the wrong party, not the user's
  key there, so nothing is actionable for the user; the notifier first checks the two providers never take
  one key (vertex at gemini's host stays the classifier's) and logs an error for the developers. With
  `LOCAL /base/<provider>` the reporter also saw the call miss the base URL the app set the client up with
  (a relay slot's key at OpenAI's host), so no such check is needed: the key did not belong there.
- unknown, absent or malformed: the classifier decides alone, as before.
"""
from __future__ import annotations

from typing import Any, Mapping

from . import providers

CLASSIFIER = "classifier"


def misdirection(verification: Any) -> tuple[str | None, bool]:
    """The provider whose host a key_misdirected verification names, and whether the reporter saw the call miss
    the base URL the app set up as well (`LOCAL /base/<provider>` rather than `LOCAL /host/<provider>`)."""
    if not isinstance(verification, Mapping) or verification.get("verdict") != "key_misdirected":
        return None, False
    probe = verification.get("probe")
    for form, past_base_url in (("LOCAL /host/", False), ("LOCAL /base/", True)):
        if isinstance(probe, str) and probe.startswith(form):
            return probe.removeprefix(form), past_base_url
    return None, False


def for_provider(provider: Any, verification: Any) -> tuple[Any, str | None, bool]:
    """(the verification to apply, the host owner a key_misdirected one names, whether it also missed the base URL):
    a call at a host whose provider may take the same key (vertex at gemini's, the relay slot at OpenAI's with no
    base URL seen) says nothing against the user's key, so that verification is set aside and the classifier decides."""
    host_of, past_base_url = misdirection(verification)
    if host_of is not None and not past_base_url and not providers.registry().separate(provider, host_of):
        return None, host_of, past_base_url
    return verification, host_of, past_base_url


def apply(reason: str | None, verification: Mapping | None) -> tuple[str | None, str]:
    """(final reason, what decided it): `classifier`, or `verification:<verdict>` when the verdict
    changed or confirmed the reason."""
    verdict = verification.get("verdict") if isinstance(verification, Mapping) else None
    decided = f"verification:{verdict}"
    if verdict in ("key_malformed", "key_misdirected"):
        return None, decided
    if verdict == "key_rejected":
        return "invalid_key", decided
    if verdict == "no_credit":
        return "quota_exhausted", decided
    if verdict == "key_works":
        return (None, decided) if reason == "invalid_key" else (reason, CLASSIFIER)
    if verdict == "has_credit":
        return (None, decided) if reason in ("invalid_key", "quota_exhausted") else (reason, CLASSIFIER)
    return reason, CLASSIFIER
