"""Notification texts: the provider named properly, a place to fix it, never a key or a raw error."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from functions.classify import REASONS
from functions.messages import Notification, render

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
    n = render("together-ai", "invalid_key")
    assert n.provider_name == "Together Ai" and n.action_url is None
    assert "Together Ai" in n.title


@pytest.mark.parametrize("slug", ["", "   ", None, "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"])
def test_empty_or_secret_looking_slug_gets_generic_text(slug):
    n = render(slug, "quota_exhausted")
    assert n.action_url is None and n.provider_name == "AI provider"
    assert "sk-" not in n.title + n.body


def test_unknown_language_falls_back_to_english():
    assert render("openai", "invalid_key", lang="fr") == render("openai", "invalid_key")
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
