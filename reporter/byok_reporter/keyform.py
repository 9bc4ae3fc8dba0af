"""Whether the key the backend sent is visibly not a key: our platform's bug, never the user's.

The commonest false alarm in the held-out sets is a provider's "invalid API key" for a key the user
entered correctly and a component then mangled: an environment variable that kept its quotes, a
JavaScript `undefined`, a Python list's repr, the `Bearer ` scheme sent twice, escape bytes. The provider's
answer is then indistinguishable from a revoked key's, but the reporter holds the key and can see
the mangling locally, without asking anyone. Such an event carries the verdict `key_malformed`
(the notifier tells no user and logs an error for the developers), and the key is never sent to a
probe.

Only forms that a person cannot type into a key field, or that the app must have added, count;
anything else (a key of another provider, a truncated key, stray whitespace, which HTTP drops
around a header value) is left to the provider's answer. Nothing of the key is kept or logged:
only the name of the form.
"""
from __future__ import annotations

from .contract import CONTROL_CHARS, LOCAL_SERVER_KEYS, NON_VALUES
from .probe import local_verification

__all__ = ["malformed", "verification"]

_QUOTES = "\"'`"
_NON_VALUES = frozenset(NON_VALUES)
_LOCAL_SERVER_KEYS = frozenset(LOCAL_SERVER_KEYS)
_SCHEMES = ("bearer ", "basic ", "token ", "bearer:", "apikey ", "api-key:", "x-api-key:")


def malformed(key: str) -> str | None:
    """The form that shows the key was mangled (`blank`, `control_chars`, `quoted`, `non_value`,
    `local_server_key`, `serialized`, `auth_scheme`), or None for anything that may be a key. An empty string counts:
    a backend that passes `key=""` had no key to send (`key=None` is the backend passing none). A key in
    brackets with nothing of a repr in it (`{sk-...}`, a documentation placeholder's braces) is what a person
    types, so it is left to the provider's answer: the user must hear of it."""
    text = key.strip()
    if not text:
        return "blank"
    if CONTROL_CHARS.search(text):
        return "control_chars"                            # escape or NUL bytes: a botched edit or a binary read
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == text[0]:
        return "quoted"                                   # '"sk-..."': the quotes went into the header
    lowered = text.lower()
    if lowered in _NON_VALUES:
        return "non_value"                                # a variable that was never set
    if lowered in _LOCAL_SERVER_KEYS:
        return "local_server_key"                         # a local server's documented "no key needed" value
    if text[0] in "[{(" and text[-1] in "]})" and (len(text) == 2 or any(ch in text for ch in "'\":,")):
        return "serialized"                               # a list, dict or tuple's repr or JSON
    if lowered.startswith(_SCHEMES):
        return "auth_scheme"                              # the header's scheme, sent twice
    return None


def verification(form: str) -> dict:
    """The event's `verification` for a malformed key: what was read is the key itself, here, not
    the provider (`LOCAL /key/<form>`), so there is no status."""
    return local_verification(f"key/{form}", "key_malformed")
