"""Notification texts: the provider named properly, a place to fix it, never a key or a raw error;
every language and the reminder variant complete, with dates formatted per language."""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from functions.classify import REASONS
from functions.messages import Notification, format_date, languages, render, resolve_language

NAMES = {
    "openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Google Gemini", "openrouter": "OpenRouter",
    "deepgram": "Deepgram", "groq": "Groq", "mistral": "Mistral AI", "xai": "xAI",
    "azure_openai": "Azure OpenAI", "elevenlabs": "ElevenLabs", "deepseek": "DeepSeek",
}


@pytest.mark.parametrize("provider", sorted(NAMES))
@pytest.mark.parametrize("reason", REASONS)
def test_every_known_provider_and_reason(provider, reason):
    n = render(provider, reason)
    assert n.provider_name == NAMES[provider]
    assert NAMES[provider] in n.title and NAMES[provider] in n.body
    assert n.action_url and n.action_url.startswith("https://")
    assert "Settings" in n.body
    assert "{" not in n.title + n.body


def test_the_example_from_the_issue():
    n = render("openai", "quota_exhausted")
    assert n.body == ("Your OpenAI key is out of credit. Add credit or update the key in Settings to keep "
                      "AI features working.")
    assert "billing" in n.action_url


def test_action_url_points_where_the_reason_is_fixed():
    assert render("openrouter", "quota_exhausted").action_url == "https://openrouter.ai/settings/credits"
    assert render("openrouter", "invalid_key").action_url == "https://openrouter.ai/settings/keys"
    assert render("anthropic", "invalid_key").action_url.endswith("/settings/keys")


def test_unknown_provider_gets_a_tidy_name_and_no_url():
    n = render("acme-labs", "invalid_key")
    assert n.provider_name == "Acme Labs" and n.action_url is None
    assert "Acme Labs" in n.title


# Tables that describe an error dialect, not a provider a user holds a key for: an OpenAI-shaped endpoint of
# unknown owner (no console to send anyone to) and Google's shared google.rpc status codes.
DIALECT_TABLES = {"openai_compatible", "google_rpc"}


def _table_slugs():
    from functions import providers
    reg = providers.registry()
    for slug, table in sorted(reg.tables.items()):
        if slug in DIALECT_TABLES:
            continue
        for name in (slug, *table.aliases):
            yield pytest.param(slug, name, id=name)


@pytest.mark.parametrize("table,slug", list(_table_slugs()))
def test_every_table_provider_and_alias_renders_its_name_and_console(table, slug):
    """Whatever slug the classifier accepts for a provider, the push names that provider and sends the user to
    its own console (an https page of the provider's, per reason), in every language."""
    english = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    canonical = english["aliases"].get(table, table)
    info = english["providers"].get(canonical)
    assert info is not None, f"en.json has no provider entry for the {table} table"
    for reason, field in (("invalid_key", "keys_url"), ("permission_denied", "access_url"),
                          ("quota_exhausted", "billing_url")):
        for lang in ("en", "ja", "de"):
            n = render(slug, reason, lang)
            assert n.provider_name == info["name"] or n.provider_name == (
                json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
                .get("providers", {}).get(canonical, {}).get("name")), (slug, n.provider_name)
            assert n.provider_name in n.title + n.body
            assert n.action_url == info[field] and n.action_url.startswith("https://"), (slug, n.action_url)
            host = n.action_url.split("/")[2]
            assert "." in host and " " not in n.action_url


def test_every_provider_entry_has_https_urls_for_each_reason():
    english = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    for slug, info in english["providers"].items():
        assert set(info) == {"name", "keys_url", "billing_url", "access_url"}, slug
        assert all(info[k].startswith("https://") for k in ("keys_url", "billing_url", "access_url")), slug


@pytest.mark.parametrize("slug", ["", "   ", None, "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"])
def test_empty_or_secret_looking_slug_gets_generic_text(slug):
    n = render(slug, "quota_exhausted")
    assert n.action_url is None and n.provider_name == "AI provider"
    assert "sk-" not in n.title + n.body


def test_unknown_language_falls_back_to_english():
    assert render("openai", "invalid_key", lang="sw") == render("openai", "invalid_key")
    assert render("openai", "invalid_key", lang="../../etc/passwd") == render("openai", "invalid_key")


def test_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError):
        render("openai", "rate_limited")


def test_notification_is_frozen():
    n = render("openai", "invalid_key")
    assert isinstance(n, Notification)
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.title = "x"  # type: ignore[misc]


def test_locale_file_covers_every_reason():
    data = json.loads((Path(__file__).resolve().parent.parent / "functions/locales/en.json").read_text())
    for reason in REASONS:
        assert data["messages"][reason]["title"] and data["messages"][reason]["body"]
        assert data["generic"][reason]["title"] and data["generic"][reason]["body"]


# --- Languages and reminders -----------------------------------------------------------------------

LOCALES = Path(__file__).resolve().parent.parent / "functions/locales"
LANGS = ("en", "es", "pt", "fr", "de", "ja", "ko", "zh", "zh-Hant")
# The word for the app's Settings screen in each language: every text must say where to fix the key.
SETTINGS = {"en": "Settings", "es": "Ajustes", "pt": "Configurações", "fr": "Paramètres", "de": "Einstellungen",
            "ja": "設定", "ko": "설정", "zh": "设置", "zh-Hant": "設定"}
SINCE = datetime(2025, 11, 20, 15, 30, tzinfo=timezone.utc)
NOW = datetime(2025, 12, 2, 9, 0, tzinfo=timezone.utc)
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
# (slug, name expected in the text): known provider, unknown provider with a tidy name, generic text.
KINDS = [("openai", "OpenAI"), ("vertex", "Google Vertex AI"), ("acme-labs", "Acme Labs"), (SECRET, None)]


def _load(lang: str) -> dict:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def _strings(node, path=()):
    """(path, text) for every template string under messages/generic."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, path + (key,))
    elif isinstance(node, str):
        yield path, node


def test_the_languages_the_issue_asks_for_are_shipped():
    assert set(LANGS) <= set(languages())
    assert set(languages()) == {p.stem for p in LOCALES.glob("*.json")}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("reminder", [False, True], ids=["first", "reminder"])
@pytest.mark.parametrize("slug,name", KINDS, ids=["known", "known-long", "unknown", "generic"])
def test_every_message_exists_and_fills_its_placeholders(lang, reason, reminder, slug, name):
    n = render(slug, reason, lang, SINCE if reminder else None, now=NOW)
    text = n.title + "\n" + n.body
    assert n.title.strip() and n.body.strip() and n.lang == lang
    assert "{" not in text and "}" not in text
    assert ".." not in text and "  " not in text
    assert SECRET not in text and "sk-" not in text
    assert SETTINGS[lang] in n.body
    if name is None:
        assert n.provider_name == "AI provider" and n.action_url is None
    else:
        assert n.provider_name == name and name in n.title and name in n.body
    if reminder:
        assert format_date(SINCE, lang, now=NOW) in n.body
    # Phone-sized: a title fits a line or two, a body a lock screen (long provider name included).
    assert len(n.title) <= 65 and len(n.body) <= 220, (len(n.title), len(n.body))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("slug", ["openai", SECRET], ids=["provider", "generic"])
def test_reminder_says_something_new(lang, reason, slug):
    first, again = render(slug, reason, lang), render(slug, reason, lang, SINCE, now=NOW)
    assert again.title != first.title and again.body != first.body
    assert (again.action_url, again.provider_name, again.lang) == (first.action_url, first.provider_name, first.lang)


def test_english_reminder_text():
    n = render("openai", "invalid_key", since=SINCE, now=NOW)
    assert n.title == "Your OpenAI key still isn't working"
    assert n.body == ("OpenAI has rejected your API key since Nov 20. Update the key in Settings to keep "
                      "AI features working.")
    g = render(None, "quota_exhausted", "en", SINCE, now=NOW)
    assert g.title == "Your AI key is still out of credit" and "since Nov 20." in g.body


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_locale_has_exactly_the_english_message_keys(lang):
    english, local = _load("en"), _load(lang)
    for section in ("messages", "generic"):
        assert dict(_strings(local[section])).keys() == dict(_strings(english[section])).keys(), section
    assert set(local["date"]) - {"days"} == set(english["date"])
    assert len(local["date"]["months"]) == 12 and all(local["date"]["months"])
    # Provider URLs and aliases live in en.json only; a locale may only rename a known provider.
    assert "aliases" not in local
    for slug, entry in local.get("providers", {}).items():
        assert slug in english["providers"] and set(entry) == {"name"}


@pytest.mark.parametrize("lang", LANGS)
def test_templates_use_the_same_placeholders_as_english(lang):
    english = dict(_strings({k: _load("en")[k] for k in ("messages", "generic")}))
    local = dict(_strings({k: _load(lang)[k] for k in ("messages", "generic")}))
    for path, template in local.items():
        found = set(re.findall(r"\{[^}]*\}", template))
        assert found == set(re.findall(r"\{[^}]*\}", english[path])), (path, template)
        assert ("{since}" in found) == (path[-1] == "reminder_body"), path  # the date goes in the body
        assert ("{provider}" in found) == (path[0] == "messages"), path
        assert template == template.strip() and template


@pytest.mark.parametrize("tag,expected", [
    ("en", "en"), ("EN", "en"), ("en-US", "en"), ("en_GB", "en"),
    ("es", "es"), ("es-419", "es"), ("es_MX", "es"), ("ES-es", "es"),
    ("pt", "pt"), ("pt-BR", "pt"), ("pt_PT", "pt"), ("pt_BR.UTF-8", "pt"),
    ("fr-CA", "fr"), ("de-AT", "de"), ("de_CH", "de"), ("ja-JP", "ja"), ("ko-KR", "ko"),
    ("zh", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh_Hans_SG", "zh"), ("zh-Hans-TW", "zh"),
    ("zh-Hant", "zh-Hant"), ("zh_TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-Hant-HK", "zh-Hant"),
    ("zh-MO", "zh-Hant"), ("ZH-HANT", "zh-Hant"), ("zh-CHT", "zh-Hant"), ("zh-CHS", "zh"),
    ("jpn", "ja"), ("ger", "de"),
    ("sw", "en"), ("xx-YY", "en"), ("", "en"), ("  ", "en"), (None, "en"), (42, "en"), (["fr"], "en"),
    ("../../etc/passwd", "en"), ("fr/../de", "en"), ("f" * 60, "en"), ("français", "en"),
])
def test_language_tag_resolution(tag, expected):
    assert resolve_language(tag) == expected
    assert render("openai", "invalid_key", tag).lang == expected


def test_language_tags_pick_the_right_text():
    assert render("openai", "invalid_key", "pt-BR").title == "Sua chave OpenAI não está funcionando"
    assert render("openai", "invalid_key", "zh_TW").title == "您的 OpenAI 金鑰無法使用"
    assert render("openai", "invalid_key", "zh-Hans-CN").title == "您的 OpenAI 密钥无法使用"
    assert render("openai", "invalid_key", "EN") == render("openai", "invalid_key")


@pytest.mark.parametrize("lang,expected,with_year", [
    ("en", "Nov 20", "Nov 20, 2024"),
    ("es", "20 nov", "20 nov 2024"),
    ("pt", "20 de nov.", "20 de nov. de 2024"),
    ("fr", "20 nov.", "20 nov. 2024"),
    ("de", "20. Nov.", "20. Nov. 2024"),
    ("ja", "11月20日", "2024年11月20日"),
    ("ko", "11월 20일", "2024년 11월 20일"),
    ("zh", "11月20日", "2024年11月20日"),
    ("zh-Hant", "11月20日", "2024年11月20日"),
])
def test_date_format_per_language(lang, expected, with_year):
    assert format_date(SINCE, lang, now=NOW) == expected
    # The year only when the date is not in the current year.
    assert format_date(SINCE.replace(year=2024), lang, now=NOW) == with_year


def test_reminder_sentences_per_language():
    cases = {
        "es": "desde el 20 nov.", "pt": "desde 20 de nov.", "fr": "depuis le 20 nov.", "de": "seit 20. Nov.",
        "ja": "11月20日から", "ko": "11월 20일부터", "zh": "自11月20日起", "zh-Hant": "自11月20日起",
    }
    for lang, phrase in cases.items():
        assert phrase in render("openai", "invalid_key", lang, SINCE, now=NOW).body, lang


def test_date_details():
    first = datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert format_date(first, "fr", now=NOW) == "1er mars"
    assert format_date(first, "en", now=NOW) == "Mar 1"
    assert format_date(datetime(2025, 5, 2), "de", now=NOW) == "2. Mai"  # naive means UTC
    assert format_date(date(2025, 9, 3), "es", now=NOW) == "3 sept"
    late = datetime(2025, 11, 20, 23, 30, tzinfo=timezone.utc)
    assert format_date(late, "ja", tz="Asia/Tokyo", now=NOW) == "11月21日"
    assert format_date(late, "en", tz="America/Los_Angeles", now=NOW) == "Nov 20"
    assert format_date(late, "en", tz="Not/AZone", now=NOW) == "Nov 20"
    assert format_date(late, "en", tz="../../etc/passwd", now=NOW) == "Nov 20"
    # New year's eve seen on Jan 2: the year is shown.
    assert format_date(datetime(2025, 12, 31, tzinfo=timezone.utc), "en",
                       now=datetime(2026, 1, 2, tzinfo=timezone.utc)) == "Dec 31, 2025"
    # Unknown language formats in English.
    assert format_date(SINCE, "sw", now=NOW) == "Nov 20"


def test_reminder_takes_firestore_timestamps_and_time_zones():
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    stamp = DatetimeWithNanoseconds(2025, 11, 20, 23, 30, nanosecond=5, tzinfo=timezone.utc)
    assert "11月21日から" in render("openai", "quota_exhausted", "ja", stamp, tz="Asia/Tokyo", now=NOW).body
    assert "since Nov 20" in render("openai", "quota_exhausted", "en", stamp, now=NOW).body


def test_reminder_rejects_a_since_that_is_not_a_date():
    with pytest.raises(TypeError):
        render("openai", "invalid_key", "en", "2025-11-20")  # type: ignore[arg-type]


def test_reminder_without_now_uses_the_clock():
    n = render("openai", "invalid_key", "en", datetime.now(timezone.utc))
    assert "still" in n.title and str(datetime.now(timezone.utc).year) not in n.body


def test_placeholders_are_filled_once():
    # A provider slug that spells a placeholder is tidied, never substituted.
    n = render("{since}", "invalid_key", "en", SINCE, now=NOW)
    assert n.provider_name == "Since" and "{" not in n.title + n.body


def test_a_locale_may_rename_a_provider_and_misses_fall_back_to_english(tmp_path, monkeypatch):
    import functions.messages as messages

    (tmp_path / "en.json").write_text((LOCALES / "en.json").read_text(encoding="utf-8"), encoding="utf-8")
    partial = {"providers": {"gemini": {"name": "Gemini de Google"}},
               "messages": {"invalid_key": {"title": "La clave de {provider} falla"}}}
    (tmp_path / "xx.json").write_text(json.dumps(partial), encoding="utf-8")
    monkeypatch.setattr(messages, "_LOCALES", tmp_path)
    messages._available.cache_clear()
    messages._catalog.cache_clear()
    try:
        n = render("google", "invalid_key", "xx", SINCE, now=NOW)
        assert n.lang == "xx" and n.provider_name == "Gemini de Google"
        english = render("gemini", "invalid_key", "en", SINCE, now=NOW)
        assert n.title == english.title.replace("Google Gemini", "Gemini de Google")  # no reminder title: English
        assert render("gemini", "invalid_key", "xx").title == "La clave de Gemini de Google falla"
        assert format_date(SINCE, "xx", now=NOW) == "Nov 20"
        assert n.action_url == english.action_url
    finally:
        messages._available.cache_clear()
        messages._catalog.cache_clear()
