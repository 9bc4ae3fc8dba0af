"""The event contract's rules, version 1 (schemas/byok-error-event.v1.json), defined once.

The notifier (functions/event.py) and the backend's reporter (the byok_reporter package, which
ships this very file through a symlink: reporter/byok_reporter/contract.py) apply the same rules,
so what one sends the other accepts. Pure standard library, no relative imports: it must import
both as `functions.contract` and as `byok_reporter.contract`.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping

VERSION = 1
KINDS = ("error", "recovered")
PROVIDER_RE = re.compile(r"[a-z0-9_-]{1,40}")
FINGERPRINT_RE = re.compile(r"[A-Za-z0-9_:.=+/-]{1,128}")
DESCRIPTIVE_LIMIT = 256                      # feature, model, operation
ERROR_TEXT_LIMITS = {"type": 1024, "code": 1024, "message": None}
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")   # never in an id or a key a person typed
# What a component sends when it had no key: a placeholder a person cannot type into a key field (a JavaScript
# `undefined`, a Python `None`, an object's default string). The reporter's key-form check sees it in the key it
# holds; the classifier sees it in a provider's echo of the key it got ("Incorrect API key provided: undefined").
NON_VALUES = ("undefined", "null", "none", "nil", "nan", "true", "false", "[object object]")
# The values local OpenAI-compatible servers document for "no key needed" (vLLM's `EMPTY`, llama.cpp's
# `sk-no-key-required`, LM Studio's `lm-studio` and older `not-needed`, Ollama's `ollama`): a component configured
# for such a server that reached a cloud provider with one sent no user's key.
LOCAL_SERVER_KEYS = ("empty", "sk-no-key-required", "not-needed", "lm-studio", "ollama")

# The optional `verification` object: what the reporter learnt by asking the provider itself.
VERDICTS = ("key_rejected", "key_works", "no_credit", "has_credit", "unknown", "key_malformed", "key_misdirected")
PROBE_RE = re.compile(r"(?:GET|POST|HEAD) /[A-Za-z0-9_./?=&%~-]{0,120}|LOCAL /key/[a-z_]{1,20}"
                      r"|LOCAL /(?:host|base)/[a-z0-9_]{1,40}")
VERIFICATION_FIELDS = frozenset({"probe", "status", "verdict", "checked_at"})


def valid_uid(uid: Any) -> bool:
    """A non-empty Firestore document id of at most 128 characters that cannot walk paths."""
    return (isinstance(uid, str) and 0 < len(uid) <= 128 and "/" not in uid and uid not in (".", "..")
            and not (uid.startswith("__") and uid.endswith("__")) and not CONTROL_CHARS.search(uid))


def verification_problem(value: Any) -> str | None:
    """Why `value` is not a valid `verification` object (never echoing it), or None when it is.

    Valid: {"probe": "GET /v1/models" (or "LOCAL /key/<form>": the reporter saw the key itself was
    mangled, verdict key_malformed; or "LOCAL /host/<provider>": the failed call went to that provider's
    official host, verdict key_misdirected; "LOCAL /base/<provider>": the same, and not to the base URL the app
    set the client up with), "status": 401 or null, "verdict": one of VERDICTS,
    "checked_at": RFC 3339 with an offset}; no other field (the body of the provider's answer
    must never travel).
    """
    if not isinstance(value, Mapping):
        return "verification must be an object"
    extra = set(value) - VERIFICATION_FIELDS
    if extra:
        return "verification has fields outside probe, status, verdict, checked_at"
    if value.get("verdict") not in VERDICTS:
        return "verification.verdict is not one of " + ", ".join(VERDICTS)
    probe = value.get("probe")
    if not isinstance(probe, str) or not PROBE_RE.fullmatch(probe):
        return ("verification.probe must be 'METHOD /path' (at most 128 characters), 'LOCAL /key/<form>' or "
                "'LOCAL /host/<provider>' or 'LOCAL /base/<provider>'")
    status = value.get("status")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        return "verification.status must be an HTTP status or null"
    checked = value.get("checked_at")
    if not isinstance(checked, str):
        return "verification.checked_at must be an RFC 3339 string"
    try:
        parsed = datetime.fromisoformat(checked.replace("z", "Z"))
    except ValueError:
        return "verification.checked_at is not an RFC 3339 timestamp"
    if parsed.tzinfo is None:
        return "verification.checked_at has no UTC offset"
    return None
