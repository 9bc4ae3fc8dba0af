"""Notification texts per (provider, reason): what happened and what to do, for a person.

Texts live as data in functions/locales/<lang>.json so other languages can be added without code;
an unknown language falls back to English. The texts are fixed templates that only take the
provider's display name, so a key or a raw provider error can never reach a notification.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .classify import REASONS
from .redact import redact_text

_LOCALES = Path(__file__).resolve().parent / "locales"
_LANG = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")
_URL_FIELD = {"invalid_key": "keys_url", "permission_denied": "access_url", "quota_exhausted": "billing_url"}


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    action_url: str | None
    provider_name: str


@lru_cache(maxsize=16)
def _catalog(lang: str) -> dict[str, Any]:
    with open(_LOCALES / f"{lang}.json", encoding="utf-8") as fh:
        return json.load(fh)


def _load(lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(catalog for lang or None-equivalent, English catalog)."""
    english = _catalog("en")
    if not isinstance(lang, str) or not _LANG.match(lang):
        return english, english
    for candidate in (lang.replace("_", "-"), lang.split("-")[0].split("_")[0]):
        if candidate == "en":
            break
        try:
            return _catalog(candidate), english
        except (OSError, ValueError):
            continue
    return english, english


def _tidy(slug: str) -> str:
    """A readable name for a provider we have no entry for: 'together-ai' -> 'Together Ai'."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", slug) if w][:6]
    return " ".join(w[:20].capitalize() for w in words) or "AI provider"


def _lookup(catalog: dict[str, Any], *path: str) -> Any:
    node: Any = catalog
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def render(provider: str, reason: str, lang: str = "en") -> Notification:
    """Title, body and action URL for telling the user their `provider` key needs them (`reason`)."""
    if reason not in REASONS:
        raise ValueError(f"unknown reason: {reason!r}")
    local, english = _load(lang)
    slug = provider.strip().lower() if isinstance(provider, str) else ""
    slug = english["aliases"].get(slug, slug)
    info = english["providers"].get(slug)

    def text(*path: str) -> str:
        value = _lookup(local, *path)
        return value if isinstance(value, str) and value else _lookup(english, *path)

    if info is None:
        # A slug that looks like a secret (a key pasted where the provider goes) is never shown.
        name = _tidy(slug) if redact_text(slug) == slug else "AI provider"
        if name == "AI provider":
            return Notification(text("generic", reason, "title"), text("generic", reason, "body"), None, name)
        action_url = None
    else:
        name = _lookup(local, "providers", slug, "name") or info["name"]
        action_url = info.get(_URL_FIELD[reason])
    title = text("messages", reason, "title").replace("{provider}", name)
    body = text("messages", reason, "body").replace("{provider}", name)
    return Notification(title=title, body=body, action_url=action_url, provider_name=name)
