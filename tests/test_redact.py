"""Redaction: every known key shape disappears wherever it sits; prose and error codes survive.

Property tests generate keys of each provider's published shape (prefix, alphabet, length) and
drop them into arbitrary text; the output must hold neither the key nor any long piece of it.
"""
from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.redact import MASK, redact, redact_text

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "_-"


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


def shaped(prefix: str, alphabet: str, n: int, suffix: str = "") -> st.SearchStrategy[str]:
    return chars(alphabet, n).map(lambda body: prefix + body + suffix)


# Key shapes as the providers issue them.
SHAPES: dict[str, st.SearchStrategy[str]] = {
    "openai_legacy": shaped("sk-", ALNUM, 48),
    "openai_project": shaped("sk-proj-", B64URL, 156),
    "openai_service_account": shaped("sk-svcacct-", B64URL, 156),
    "openai_admin": shaped("sk-admin-", B64URL, 80),
    "anthropic": shaped("sk-ant-api03-", B64URL, 93, "AA"),
    "anthropic_admin": shaped("sk-ant-admin01-", B64URL, 93, "AA"),
    "openrouter": shaped("sk-or-v1-", HEX, 64),
    "google": shaped("AIza", B64URL, 35),
    "groq": shaped("gsk_", ALNUM, 52),
    "xai": shaped("xai-", ALNUM, 80),
    "elevenlabs": shaped("sk_", HEX, 48),
    "deepgram": chars(HEX, 40),
    "azure": chars(HEX, 32),
    "azure_new": chars(ALNUM, 84),
    "mistral": chars(ALNUM, 32),
    "cohere": chars(ALNUM, 40),
    "deepseek": shaped("sk-", HEX, 32),
    "huggingface": shaped("hf_", string.ascii_letters, 34),
    "perplexity": shaped("pplx-", ALNUM, 48),
    "replicate": shaped("r8_", ALNUM, 37),
    "together": chars(HEX, 64),
    "jwt": st.tuples(chars(B64URL, 30), chars(B64URL, 60), chars(B64URL, 43)).map(
        lambda p: f"eyJ{p[0]}.eyJ{p[1]}.{p[2]}"),
    "fcm_token": st.tuples(chars(B64URL, 22), chars(B64URL, 134)).map(lambda p: f"{p[0]}:APA91b{p[1]}"),
}

# How keys show up in text: bare, in JSON, in headers, in URLs, after words.
CONTEXTS = [
    "{}",
    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com.",
    "Authorization: Bearer {}",
    "authorization: Token {}",
    '{{"error": {{"message": "invalid x-api-key", "api_key": "{}"}}}}',
    "GET https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key={}&alt=sse",
    "headers={{'xi-api-key': '{}'}}",
    "key={}",
    "token: {}",
    "({})",
    "'{}'",
]


def long_pieces(key: str, size: int = 24) -> list[str]:
    """Slices of the key's random part long enough to matter if they leaked."""
    return [key[i:i + size] for i in range(0, max(1, len(key) - size + 1), 8)]


def assert_gone(key: str, out: str, around: str = "") -> None:
    """Neither the key nor a long slice of it is in `out` (unless `around`, the text the key was
    put into, holds that slice itself)."""
    assert key not in out
    for piece in long_pieces(key):
        if piece not in around:
            assert piece not in out, f"part of the key leaked: {piece!r} in {out!r}"


@pytest.mark.parametrize("shape", sorted(SHAPES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_key_shape_is_redacted_in_any_context(shape, data):
    key = data.draw(SHAPES[shape], label="key")
    context = data.draw(st.sampled_from(CONTEXTS), label="context")
    before = data.draw(st.text(max_size=40), label="before")
    after = data.draw(st.text(max_size=40), label="after")
    text = before + context.format(key) + after
    assert_gone(key, redact_text(text), before + context + after)


@settings(max_examples=200, deadline=None)
@given(key=st.one_of(*SHAPES.values()), sep=st.sampled_from([" ", "\n", ",", ":", "=", "|", "\t", "é"]))
def test_several_keys_in_one_text(key, sep):
    text = sep.join(["error", key, "and again", key, "end"])
    assert_gone(key, redact_text(text))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_crashes_on_any_text(text):
    out = redact_text(text)
    assert isinstance(out, str)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_never_crashes_on_any_json_value(value):
    out = redact(value)
    json.dumps(out, default=str)


@settings(max_examples=100, deadline=None)
@given(key=st.one_of(*SHAPES.values()), field=st.sampled_from(["message", "detail", "x", "nested"]))
def test_keys_in_nested_bodies_are_redacted(key, field):
    body = {"error": {field: [{"text": f"bad key {key}"}], "code": "invalid_api_key"}, "raw": key.encode()}
    out = json.dumps(redact(body))
    assert_gone(key, out)
    assert "invalid_api_key" in out


PROSE_WORDS = ("the your key token is invalid provided please check plan billing details quota exceeded "
               "request rate limit model credit balance too low access API permission denied project "
               "service disabled bearer basic password secret expired revoked account organization "
               "retry later server overloaded temporarily unavailable upgrade purchase credits").split()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PROSE_WORDS), st.sampled_from(["", "", "", ",", ".", "!", "?"])),
                min_size=1, max_size=40))
def test_plain_prose_survives(words):
    text = " ".join(word + punct for word, punct in words)
    assert redact_text(text) == text


@pytest.mark.parametrize("text", [
    "Error code: 429 - {'error': {'message': 'You exceeded your current quota, please check your plan and "
    "billing details.', 'type': 'insufficient_quota', 'param': None, 'code': 'insufficient_quota'}}",
    "Rate limit reached for gpt-4o-mini in organization org-abc on tokens per min (TPM): Limit 200000, "
    "Used 199000, Requested 2000. Please try again in 300ms. rate_limit_exceeded",
    "400 INVALID_ARGUMENT. {'error': {'code': 400, 'message': 'API key not valid. Please pass a valid API "
    "key.', 'status': 'INVALID_ARGUMENT', 'details': [{'@type': 'type.googleapis.com/google.rpc.ErrorInfo', "
    "'reason': 'API_KEY_INVALID', 'domain': 'googleapis.com'}]}}",
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade "
    "or purchase credits.",
    "403 PERMISSION_DENIED: Generative Language API has not been used in project 123 before or it is "
    "disabled. SERVICE_DISABLED",
    "The token counting service is temporarily overloaded; retry your task-management request. "
    "Token limit exceeded. Your password is incorrect. The key is invalid. Bearer token required.",
    "Insufficient credits. This account never purchased credits. Make sure your key is on the correct "
    "account or org.",
    "model claude-3-5-sonnet-20241022 and gemini-2.0-flash-001 and gpt-4o-2024-08-06",
])
def test_real_error_texts_keep_what_the_classifier_reads(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("text, secret", [
    ("Incorrect API key provided: sk-proj-********************************************abcd.",
     "********abcd"),
    ("password=hunter2hunter2 and more", "hunter2hunter2"),
    ("Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ=", "dXNlcm5hbWU6cGFzc3dvcmQ="),
    ("curl -H 'x-goog-api-key: 3f9a77c1e0b2d4a6f8' https://x", "3f9a77c1e0b2d4a6f8"),
    ('{"access_token": "ya29.a0AfH6SMBx1234567890abcdefghijkl"}', "a0AfH6SMBx1234567890"),
    ("AKIAIOSFODNN7EXAMPLE is an AWS key id", "AKIAIOSFODNN7EXAMPLE"),
    ("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----",
     "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
    ("ÄPI-KEY: abcdef1234567890xyzİ", "abcdef1234567890xyz"),
])
def test_other_secret_forms(text, secret):
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_dict_fields_with_secret_names_are_masked_whole():
    out = redact({"headers": {"Authorization": "Bearer abc", "X-Api-Key": "short", "xi-api-key": 12345},
                  "token": {"nested": "x"}, "tokens": 12, "code": "invalid_api_key", "key": None})
    assert out == {"headers": {"Authorization": MASK, "X-Api-Key": MASK, "xi-api-key": MASK},
                   "token": MASK, "tokens": 12, "code": "invalid_api_key", "key": None}


def test_non_json_values_become_redacted_text():
    class Weird:
        def __str__(self):
            return "weird sk-abcdefghijklmnop1234567890"

    class Broken:
        def __str__(self):
            raise RuntimeError("no")

    out = redact({"a": Weird(), "b": b"key=sk-abcdefghijklmnop1234567890", "c": (1, 2), "d": Broken()})
    assert out["a"] == f"weird {MASK}" and out["b"] == f"key={MASK}" and out["c"] == [1, 2]
    assert out["d"] == "<Broken>"


def test_deep_nesting_is_cut_not_crashing():
    value: object = "sk-abcdefghijklmnop1234567890"
    for _ in range(200):
        value = [value]
    assert "sk-abc" not in json.dumps(redact(value))
