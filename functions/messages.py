"""Notification texts per (provider, reason): what happened and what to do, for a person, in their language.

Texts live as data in functions/locales/<lang>.json so a language is added without code; provider
names and URLs live in en.json only (a locale may override a display name), and a provider is found by any
slug or alias its classification table accepts (functions/providers/). A user's language tag
(`pt-BR`, `zh_TW`, `EN`, ...) resolves to the closest file, else English. The texts are fixed
templates that only take the provider's display name and a date we format ourselves, filled in one
pass without str.format, so a key or a raw provider error can never reach a notification.

A reminder (`since` given) is its own text in every language: the problem is still there, since
when; it never repeats the first message. Dates are formatted from per-locale month names and
patterns in the same files, so no locale library is needed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import providers
from .classify import REASONS
from .redact import redact_text

_LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "en"
GENERIC_NAME = "AI provider"

_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$")
_MAX_TAG = 35
# ISO 639-2/3 codes and legacy tags some clients send, mapped to the tags our files use.
_LANGUAGE_ALIASES = {"eng": "en", "spa": "es", "por": "pt", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de",
                     "jpn": "ja", "kor": "ko", "zho": "zh", "chi": "zh", "cmn": "zh"}
_TAG_ALIASES = {"zh-cht": "zh-hant", "zh-chs": "zh-hans"}
# A region that implies a script when the tag names none: Chinese in Taiwan, Hong Kong, Macau is Traditional.
_REGION_SCRIPT = {("zh", "tw"): "hant", ("zh", "hk"): "hant", ("zh", "mo"): "hant"}

_URL_FIELD = {"invalid_key": "keys_url", "permission_denied": "access_url", "quota_exhausted": "billing_url"}
_PLACEHOLDER = re.compile(r"\{(provider|since)\}")
_DATE_FIELD = re.compile(r"\{(day|month|year)\}")


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    action_url: str | None
    provider_name: str
    lang: str = DEFAULT_LANGUAGE  # the locale file the text came from (after resolution and fallback)


@lru_cache(maxsize=1)
def _available() -> dict[str, str]:
    """Lower-cased tag -> file stem, for every locale file shipped."""
    return {p.stem.lower(): p.stem for p in _LOCALES.glob("*.json")}


@lru_cache(maxsize=32)
def _catalog(stem: str) -> dict[str, Any]:
    with open(_LOCALES / f"{stem}.json", encoding="utf-8") as fh:
        return json.load(fh)


def languages() -> list[str]:
    """The locale tags we have texts for, e.g. ['de', 'en', 'es', ..., 'zh', 'zh-Hant']."""
    return sorted(_available().values())


def resolve_language(tag: object) -> str:
    """The locale file for a user's language tag: exact, then with an implied script, then shorter; else 'en'.

    Accepts BCP 47 (`pt-BR`, `zh-Hant-TW`), POSIX/Java (`zh_TW`, `pt_BR.UTF-8`), any case; anything
    else (None, a number, a path) is English.
    """
    if not isinstance(tag, str):
        return DEFAULT_LANGUAGE
    tag = re.split(r"[.@]", tag.strip(), maxsplit=1)[0].replace("_", "-").lower()
    if len(tag) > _MAX_TAG or not _TAG.match(tag):
        return DEFAULT_LANGUAGE
    parts = tag.split("-")
    parts[0] = _LANGUAGE_ALIASES.get(parts[0], parts[0])
    tag = "-".join(parts)
    for legacy, modern in _TAG_ALIASES.items():
        if tag == legacy or tag.startswith(legacy + "-"):
            tag = modern + tag[len(legacy):]
    parts = tag.split("-")
    if len(parts) > 1 and len(parts[1]) != 4:  # no script subtag: maybe the region implies one
        script = _REGION_SCRIPT.get((parts[0], parts[1]))
        if script:
            parts.insert(1, script)
    files = _available()
    for n in range(len(parts), 0, -1):
        stem = files.get("-".join(parts[:n]))
        if stem:
            return stem
    return DEFAULT_LANGUAGE


def _lookup(catalog: dict[str, Any], *path: str) -> Any:
    node: Any = catalog
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str) and tz:
        try:
            return ZoneInfo(tz)
        except Exception:  # noqa: BLE001 - unknown or malformed zone name: UTC rather than no push
            return timezone.utc
    return timezone.utc


def _local_date(when: datetime | date, tz: str | tzinfo | None) -> date:
    if isinstance(when, datetime):
        aware = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        return aware.astimezone(_zone(tz)).date()
    if isinstance(when, date):
        return when
    raise TypeError(f"expected a datetime or date, got {type(when).__name__}")


def format_date(when: datetime | date, lang: str = DEFAULT_LANGUAGE, *, tz: str | tzinfo | None = None,
                now: datetime | None = None) -> str:
    """A short localized date ('Nov 20', '20 nov', '20. Nov.', '11月20日'), with the year when it isn't this year.

    `when` naive is taken as UTC; it is shown in `tz` (an IANA name such as 'Europe/Paris', default UTC).
    """
    stem = resolve_language(lang)
    local, english = _catalog(stem), _catalog(DEFAULT_LANGUAGE)
    day = _local_date(when, tz)
    today = _local_date(now if now is not None else datetime.now(timezone.utc), tz)

    def field(name: str) -> Any:
        value = _lookup(local, "date", name)
        return value if value else _lookup(english, "date", name)

    months = _lookup(local, "date", "months")
    if not (isinstance(months, list) and len(months) == 12 and all(isinstance(m, str) and m for m in months)):
        months = english["date"]["months"]
    days = _lookup(local, "date", "days")  # per-locale day names ('1er'); never inherited from English
    days = days if isinstance(days, dict) else {}
    pattern = field("day_month") if day.year == today.year else field("day_month_year")
    values = {"day": str(days.get(str(day.day)) or day.day), "month": months[day.month - 1], "year": str(day.year)}
    return _DATE_FIELD.sub(lambda m: values[m.group(1)], pattern)


def _tidy(slug: str) -> str:
    """A readable name for a provider we have no entry for: 'acme-labs' -> 'Acme Labs'."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", slug) if w][:6]
    return " ".join(w[:20].capitalize() for w in words) or GENERIC_NAME


def _fill(template: str, values: dict[str, str]) -> str:
    """Placeholders replaced in one pass: a value is never scanned again, and no str.format."""
    if values.get("since", "").endswith("."):
        template = template.replace("{since}.", "{since}")  # 'depuis le 20 nov.' ends the sentence once
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def render(provider: str, reason: str, lang: str = DEFAULT_LANGUAGE, since: datetime | date | None = None, *,
           tz: str | tzinfo | None = None, now: datetime | None = None) -> Notification:
    """Title, body and action URL telling the user their `provider` key needs them (`reason`), in `lang`.

    With `since` (when the problem was first seen), the reminder text: still failing, since that date
    (shown in `tz`, default UTC; the year appears when it differs from `now`'s). Unknown `reason`
    raises ValueError; `since` that is not a datetime/date raises TypeError.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason: {reason!r}")
    stem = resolve_language(lang)
    local, english = _catalog(stem), _catalog(DEFAULT_LANGUAGE)
    values: dict[str, str] = {}
    prefix = ""
    if since is not None:
        values["since"] = format_date(since, stem, tz=tz, now=now)
        prefix = "reminder_"
    slug = provider.strip().lower() if isinstance(provider, str) else ""
    slug = providers.registry().resolve(slug) or slug   # every slug and alias the classifier's tables accept
    slug = english["aliases"].get(slug, slug)            # tables one name covers: openai_realtime -> openai
    info = english["providers"].get(slug)

    def text(section: str, part: str) -> str:
        value = _lookup(local, section, reason, prefix + part)
        return value if isinstance(value, str) and value else _lookup(english, section, reason, prefix + part)

    if info is None:
        # A slug that looks like a secret (a key pasted where the provider goes) is never shown.
        name = _tidy(slug) if redact_text(slug) == slug else GENERIC_NAME
        if name == GENERIC_NAME:
            return Notification(_fill(text("generic", "title"), values), _fill(text("generic", "body"), values),
                                None, name, stem)
        action_url = None
    else:
        override = _lookup(local, "providers", slug, "name")
        name = override if isinstance(override, str) and override else info["name"]
        action_url = info.get(_URL_FIELD[reason])
    values["provider"] = name
    return Notification(title=_fill(text("messages", "title"), values), body=_fill(text("messages", "body"), values),
                        action_url=action_url, provider_name=name, lang=stem)


def email_texts(provider_name: str, lang: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The email's fixed lines (greeting, action label, settings hint, footer) in `lang`, English where missing.

    `provider_name` is the display name `render` chose, filled in one pass like the push texts.
    """
    stem = resolve_language(lang)
    local, english = _catalog(stem), _catalog(DEFAULT_LANGUAGE)
    out = {}
    for part in ("greeting", "action", "settings", "footer"):
        value = _lookup(local, "email", part)
        value = value if isinstance(value, str) and value else _lookup(english, "email", part)
        out[part] = _fill(value, {"provider": provider_name})
    return out
