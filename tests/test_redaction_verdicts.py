"""Redaction keeps what the classifier reads (issue 12, item 4): identifiers survive, keys do not.

Every case of every corpus (tests/fixtures/provider_errors*.jsonl, globbed: a new file is included
by itself) goes through the reporter's extract_error, as report() does with an error dict, and
must get the same verdict as the raw error. Then the case that broke it, end to end: a Gemini
free-tier daily exhaustion raised by google-genai, reported through Reporter, notified.
"""
from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from byok_reporter import Reporter, extract_error
from functions.classify import classify
from functions.redact import MASK, redact, redact_text
from tests.reporting import PROJECT, FakeHost, Pipeline

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPORA = sorted(FIXTURES.glob("provider_errors*.jsonl"))


def corpus_cases():
    for path in CORPORA:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                yield pytest.param(json.loads(line), id=f"{path.stem}:{number}")


def test_the_corpora_are_found():
    assert len(CORPORA) >= 3 and sum(1 for _ in corpus_cases()) >= 300


@pytest.mark.parametrize("case", corpus_cases())
def test_reporting_does_not_change_the_verdict(case):
    provider, error = case["provider"], case["error"]
    assert classify(provider, extract_error(error)) == classify(provider, error)


IDENTIFIERS = [
    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    "GenerateContentInputTokensPerModelPerMinute-FreeTier",
    "GenerateContentPaidTierInputTokensPerModelPerMinute",
    "generativelanguage.googleapis.com/generate_content_free_tier_requests",
    "projects/123456789012/locations/us-central1/publishers/google/models/gemini-2.5-pro",
    "type.googleapis.com/google.rpc.QuotaFailure",
    "ServiceQuotaExceededException", "AccessDeniedException", "UnrecognizedClientException",
    "insufficient_quota", "billing_hard_limit_reached", "RESOURCE_PROJECT_INVALID", "API_KEY_SERVICE_BLOCKED",
    "PermissionDeniedError", "aiplatform.googleapis.com/online_prediction_requests_per_base_model",
]


@pytest.mark.parametrize("identifier", IDENTIFIERS)
def test_identifiers_survive(identifier):
    text = f"Quota exceeded for quota metric '{identifier}' and limit 'x'"
    assert redact_text(text) == text
    assert redact({"quotaId": identifier}) == {"quotaId": identifier}


KEYS = [
    "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 3, "sk-ant-api03-" + "Zq7_Wx2-Yv5uTs8rQp1oNm4lKj6" * 3,
    "AIzaSyD4Xq7Lm2Np9Rs5Tu8Vw1Yz3Ab6Cd0EfGh", "3f9a77c1e0b2d4a6f8091a2b3c4d5e6f7a8b9c0d",
    "sk_9f8e7d6c5b4a39281706f5e4d3c2b1a00a1b2c3d4e5f6789", "gsk_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6",
    "9c1e0b2d4a6f8091a2b3c4d5e6f7a8b9",                             # Azure 32-hex
    "Xk2mQ9rT4vW7yZ1bC3dF5gH8jK0nP6sU",                             # Mistral-like 32 alnum
    "qwErtYuiOPasdfGHjklZxcvBNMqwertyUIOPasdf",                     # digit-free, mixed case
]


@pytest.mark.parametrize("key", KEYS)
def test_key_shapes_are_still_removed(key):
    assert key not in redact_text(f"request failed with {key} as credential")
    assert MASK in redact_text(f"x {key} y")


def test_random_keys_without_a_digit_are_still_removed():
    """A key of letters only could look like words; it almost never reads as CamelCase words."""
    rng = random.Random(12)
    keys = ["".join(rng.choice(string.ascii_letters) for _ in range(rng.choice((32, 40, 48, 64))))
            for _ in range(20000)]
    survived = [k for k in keys if k in redact_text(f"x {k} y")]
    assert len(survived) <= len(keys) // 1000                          # at most 0.1 %
    with_digits = ["".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32)) + "7"
                   for _ in range(2000)]
    assert not [k for k in with_digits if k in redact_text(f"x {k} y")]


# --------------------------------------------------------------------------------------------------
# The Gemini free tier, through Reporter, to a push.

GEMINI_DAILY_FREE_TIER = {"error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details. For more "
               "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To "
               "monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded "
               "for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 50, "
               "model: gemini-2.5-pro\nPlease retry in 20.5s.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        "quotaDimensions": {"location": "global", "model": "gemini-2.5-pro"}, "quotaValue": "50"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}]}}


@pytest.fixture
def gemini():
    host = FakeHost()
    host.route("POST", "/v1/models/gemini-2.5-pro:generateContent", 429, GEMINI_DAILY_FREE_TIER)
    host.route("GET", "/v1beta/models", 200, {"models": [{"name": "models/gemini-2.5-pro"}]})
    yield host
    host.stop()


def test_gemini_free_tier_daily_exhaustion_reported_through_reporter_is_notified(
        gemini, pubsub_emulator, monkeypatch, env, redis_db, firestore_db, fcm, uid):
    from google import genai
    from google.genai import errors, types

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    firestore_db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    key = "AIzaSyC1Xq7Lm2Np9Rs5Tu8Vw1Yz3Ab6Cd0EfGh"
    client = genai.Client(api_key=key, http_options=types.HttpOptions(base_url=gemini.url))
    try:
        client.models.generate_content(model="gemini-2.5-pro", contents="hi")
        raise AssertionError("the SDK call did not fail")
    except errors.ClientError as exc:
        error = exc
    pipe = Pipeline()
    reporter = Reporter(PROJECT, pipe.name, fingerprint_pepper="pepper")
    try:
        reporter.report(uid, "gemini", error, key=key, base_url=gemini.url, feature="chat")
        assert reporter.flush(20)
        assert pipe.deliver(1) == ["sent"]
    finally:
        reporter.close(5)
        pipe.close()
    event = pipe.events[0]
    assert "GenerateRequestsPerDayPerProjectPerModel-FreeTier" in json.dumps(event)
    assert event["verification"]["verdict"] == "key_works"           # the key is fine: it is the quota
    assert [m["message"]["data"]["reason"] for m in fcm.delivered()] == ["quota_exhausted"]
    assert key not in json.dumps(event) and key not in json.dumps(fcm.delivered())
