"""Asking the provider before alarming: a real SDK fails against a local fake provider, the
Reporter probes that same host with the same key, the event crosses the real Pub/Sub emulator, the
notifier (real Redis, Firestore emulator) decides, and the local FCM server counts the pushes.

Each fake provider answers the failing call and the probe on separate paths and records every
request, so the tests see exactly what was probed, with which header, and that nothing else was.
"""
from __future__ import annotations

import json
import logging
import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from byok_reporter import Reporter  # noqa: E402
from functions.classify import classify  # noqa: E402
from tests.reporting import PROJECT, FakeHost, Pipeline  # noqa: E402

OPENAI_KEY = "sk-proj-" + "Qw3eRt6yUi9oPa2sDf5gHj8kLz1xCv4b" * 5
ANTHROPIC_KEY = "sk-ant-api03-" + "Mn7_Bv2-Cx5zLk8jHg1fDs4aPo6iUy9tRe3wQ0" * 2 + "AA"
GOOGLE_KEY = "AIzaSyB7Yq2Lm9Np4Rs1Tu6Vw3Yz8Ab5Cd0EfGh"
DEEPGRAM_KEY = "8a1f77c1e0b2d4a6f8091a2b3c4d5e6f7a8b9c0e"
ELEVENLABS_KEY = "sk_" + "1f8e7d6c5b4a39281706f5e4d3c2b1a0" + "0a1b2c3d4e5f6780"
OPENROUTER_KEY = "sk-or-v1-" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0" * 2
DEEPSEEK_KEY = "sk-" + "5b2c9d0e1f2a3b4c5d6e7f8091a2b3c4"
MOONSHOT_KEY = "sk-" + "Kx7pQ2mN9vB4cR1tY6uW3zA8sD5fG0hJLq2wE4rT6yU8iO0p"
SILICONFLOW_KEY = "sk-" + "qzvkdmwhtepylrgxajncfousbiqzvkdmwhtepylrgxajncfo"
REPLICATE_KEY = "r8_" + "Vb3Nx8Kq2Lm7Pz4Rt9Wy1Hc6Dj5Fg0SaEu2Ik"
ASSEMBLYAI_KEY = "7c1e9a4b2d8f6e0a3b5c7d9e1f2a4b6c"
COHERE_KEY = "Zq8Wm3Xk7Lp2Rv9Tn4Yb6Hc1Jd5Gf0SaEu2IkOo"
NOVITA_KEY = "sk_" + "Pw4Qe7Rt1Yu9Io3As6Df8Gh2Jk5Lz0Xc4Vb7Nm1Qw"
SAMBANOVA_KEY = "3f2a9c1e-7b4d-4e8a-9c2f-1a6b8d0e5f73"
AZURE_KEY = "3c9f1a7e5b2d4c8e9a0b1c2d3e4f5a6b"
AWS_SECRET = "Hq7/Kz2PmX9vLw4RtY8nB3cJ6dF1gS5aEu0iOpQe"
AWS_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMyJHMEUCIQDtestsessiontoken0123456789abcdef=="
SPEECH_KEY = "b3c7e1f9a2d84c6e9f0a1b2c3d4e5f60"
ARK_KEY = "6f2d8a1c-4b7e-4e9a-8c3d-2f1a0b9c8d7e"
POLLINATIONS_KEY = "sk_" + "Hq4Rt8Yu2Io6Pa0Sd3Fg7Jk1Lz5Xc9Vb"
CLOUDFLARE_TOKEN = "Zr8Kq2Wm6Xn4Lp0Tv7Yb3Hc9Jd5Gf1SaEu6IkOo"
BEDROCK_API_KEY = "ABSKQmVkcm9ja0FQSUtleS10ZXN0LWF0LTEyMzQ1Njc4OTAxMjpRa3dUZXN0S2V5VmFsdWU="
FIRECRAWL_KEY = "fc-" + "3f9a2c7e1b5d4a8c9e0f1a2b3c4d5e6f"
NOMIC_KEY = "nk-" + "Wq7Er2Ty5Ui8Op1As4Df6Gh9Jk3Lz0Xc2Vb5Nm8QwEr1"
STEPFUN_KEY = "Zk4Lm8Np2Qr6St0Uv3Wx7Yz1Ab5Cd9Ef2Gh6Ij0Kl4Mn8Op"
DASHSCOPE_KEY = "sk-" + "7c1e9a4b2d8f4e6a9b3c5d7e1f2a4b6c"
DEEPL_KEY = "9b2e4c7a-1d3f-4a5b-8c6d-0e1f2a3b4c5d:fx"
HF_TOKEN = "hf_" + "Tq3Wm7Xn1Lp5Rv9Yb2Hc6Jd0GfKsEuIoPaZx"
KEYS = [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY, DEEPGRAM_KEY, ELEVENLABS_KEY, OPENROUTER_KEY, DEEPSEEK_KEY,
        MOONSHOT_KEY, SILICONFLOW_KEY, REPLICATE_KEY, ASSEMBLYAI_KEY, COHERE_KEY, NOVITA_KEY, SAMBANOVA_KEY,
        AZURE_KEY, AWS_SECRET, AWS_TOKEN, BEDROCK_API_KEY, SPEECH_KEY, ARK_KEY, POLLINATIONS_KEY,
        CLOUDFLARE_TOKEN, FIRECRAWL_KEY, NOMIC_KEY, STEPFUN_KEY, DASHSCOPE_KEY, DEEPL_KEY, HF_TOKEN]

OPENAI_BAD_KEY = {"error": {"message": "Incorrect API key provided: sk-proj-****. You can find your API key at "
                                       "https://platform.openai.com/account/api-keys.",
                            "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
MODELS = {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def hosts():
    host, other = FakeHost(), FakeHost()
    yield host, other
    host.stop()
    other.stop()


@pytest.fixture
def host(hosts):
    for h in hosts:
        h.reset()
    return hosts[0]


@pytest.fixture
def other(hosts, host):
    return hosts[1]


@pytest.fixture
def pipe(pubsub_emulator, monkeypatch, env, redis_db, firestore_db, fcm):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    p = Pipeline()
    p.db, p.fcm = firestore_db, fcm
    yield p
    p.close()


@pytest.fixture
def reporters():
    made: list[Reporter] = []

    def make(**options) -> Reporter:
        options.setdefault("fingerprint_pepper", "test-pepper")
        options.setdefault("probe_timeout", 3.0)
        reporter = Reporter(PROJECT, options.pop("topic"), **options)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=5)


@pytest.fixture
def device(pipe, uid):
    pipe.db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    return uid


def raised(fn) -> BaseException:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("the SDK call did not fail")


def assert_no_key(pipe: Pipeline, capsys, caplog) -> None:
    """The key is in no published event, no notifier log line, no reporter log line, no push."""
    text = "\n".join(r.decode() for r in pipe.raw) + capsys.readouterr().out + caplog.text \
        + json.dumps(pipe.fcm.delivered())
    for key in KEYS:
        assert key not in text and key[-16:] not in text


def pushed_reasons(pipe: Pipeline) -> list[str]:
    return [m["message"]["data"]["reason"] for m in pipe.fcm.delivered()]


def notifier_lines(capsys_out: str) -> list[dict]:
    from tests.helpers import log_lines

    return [line for line in log_lines(capsys_out) if "outcome" in line]


def openai_fails(host: FakeHost, path: str = "/v1/chat/completions", key: str = OPENAI_KEY,
                 base: str = "/v1"):
    import openai

    client = openai.OpenAI(api_key=key, base_url=host.url + base, max_retries=0)
    return raised(lambda: client.chat.completions.create(**CHAT))


# --------------------------------------------------------------------------------------------------
# The verdicts, one per probe kind, through Pub/Sub and the notifier.

def test_a_bare_403_whose_probe_answers_401_is_one_invalid_key_push(host, pipe, reporters, device, capsys, caplog):
    import openai

    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    assert isinstance(exc, openai.PermissionDeniedError)
    reporter = reporters(topic=pipe.name)
    with caplog.at_level(logging.INFO, logger="byok_reporter"):
        for _ in range(3):
            reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
        assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pushed_reasons(pipe) == ["invalid_key"]
    event = pipe.events[0]
    assert classify("openai", event["error"]) != "invalid_key"          # the text alone would not say so
    assert event["verification"]["verdict"] == "key_rejected"
    assert event["verification"]["probe"] == "GET /v1/models" and event["verification"]["status"] == 401
    probe = host.hits_on("/v1/models")
    assert len(probe) == 1 and probe[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    out = capsys.readouterr().out
    assert [line["decided_by"] for line in notifier_lines(out)] == ["verification:key_rejected"]
    print(out)                                                            # back for assert_no_key
    assert_no_key(pipe, capsys, caplog)


def test_a_401_whose_probe_answers_200_gives_no_invalid_key_push(host, pipe, reporters, device, capsys, caplog):
    import anthropic

    host.route("POST", "/v1/messages", 401, {"type": "error", "error": {"type": "authentication_error",
                                                                         "message": "invalid x-api-key"}})
    host.route("GET", "/v1/models", 200, {"data": [{"id": "claude-sonnet-4-5", "type": "model"}],
                                          "has_more": True})
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=host.url, max_retries=0)
    exc = raised(lambda: client.messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                                messages=[{"role": "user", "content": "hi"}]))
    assert isinstance(exc, anthropic.AuthenticationError)
    assert reported(pipe, reporters, device, "anthropic", exc, ANTHROPIC_KEY, host.url) == ["not_actionable"]
    assert pipe.fcm.delivered() == []
    assert classify("anthropic", pipe.events[0]["error"]) == "invalid_key"   # what it would have said
    assert pipe.events[0]["verification"]["verdict"] == "key_works"
    (probe,) = host.hits_on("/v1/models")
    assert probe["path"] == "/v1/models?limit=1"
    assert probe["headers"]["x-api-key"] == ANTHROPIC_KEY and probe["headers"]["anthropic-version"]
    assert "authorization" not in probe["headers"]
    assert_no_key(pipe, capsys, caplog)


def test_openrouter_402_with_the_key_limit_spent_is_one_quota_push(host, pipe, reporters, device, capsys, caplog):
    host.route("POST", "/api/v1/chat/completions", 402,
               {"error": {"code": 402, "message": "Key limit exceeded"}})
    host.route("GET", "/api/v1/key", 200, {"data": {"label": "sk-or-v1-0f1...1f0", "limit": 10,
                                                    "limit_remaining": 0, "usage": 10, "is_free_tier": False}})
    exc = openai_fails(host, key=OPENROUTER_KEY, base="/api/v1")
    reporter = reporters(topic=pipe.name)
    for _ in range(5):
        reporter.report(device, "openrouter", exc, key=OPENROUTER_KEY, base_url=host.url + "/api/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pushed_reasons(pipe) == ["quota_exhausted"]
    assert pipe.events[0]["verification"] == {**pipe.events[0]["verification"], "probe": "GET /api/v1/key",
                                              "status": 200, "verdict": "no_credit"}
    assert len(host.hits_on("/api/v1/key")) == 1 and host.hits_on("/api/v1/models") == []
    assert_no_key(pipe, capsys, caplog)


def test_openrouter_402_with_room_on_the_key_limit_still_alarms(host, pipe, reporters, device):
    """OpenRouter's key read shows the key's own limit only (the account balance needs a management
    key): room left on it does not prove the account has credit, so the 402 still notifies."""
    host.route("POST", "/api/v1/chat/completions", 402,
               {"error": {"code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/credits"}})
    host.route("GET", "/api/v1/key", 200, {"data": {"limit": 100, "limit_remaining": 74.5, "usage": 25.5}})
    exc = openai_fails(host, key=OPENROUTER_KEY, base="/api/v1")
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "openrouter", exc, key=OPENROUTER_KEY, base_url=host.url + "/api/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pushed_reasons(pipe) == ["quota_exhausted"]
    assert pipe.events[0]["verification"]["verdict"] == "key_works"


@pytest.mark.parametrize("available, outcome, reasons", [(True, "not_actionable", []),
                                                         (False, "sent", ["quota_exhausted"])])
def test_deepseek_402_against_its_balance(host, pipe, reporters, device, available, outcome, reasons):
    """DeepSeek's /user/balance says whether the account can pay (is_available): credit left means
    no push, none means exactly one quota_exhausted push."""
    host.route("POST", "/chat/completions", 402, {"error": {"message": "Insufficient Balance",
                                                            "type": "unknown_error", "param": None,
                                                            "code": "invalid_request_error"}})
    host.route("GET", "/user/balance", 200, {"is_available": available, "balance_infos": [
        {"currency": "USD", "total_balance": "3.10" if available else "0.00", "granted_balance": "0.00",
         "topped_up_balance": "3.10" if available else "0.00"}]})
    exc = openai_fails(host, key=DEEPSEEK_KEY, base="")
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "deepseek", exc, key=DEEPSEEK_KEY, base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == [outcome]
    assert pushed_reasons(pipe) == reasons
    assert pipe.events[0]["verification"]["verdict"] == ("has_credit" if available else "no_credit")
    (probe,) = host.hits_on("/user/balance")
    assert probe["headers"]["authorization"] == f"Bearer {DEEPSEEK_KEY}"


def test_gemini_permission_denied_whose_probe_rejects_the_key(host, pipe, reporters, device, capsys, caplog):
    from google import genai
    from google.genai import types

    host.route("POST", "/v1/models/gemini-2.0-flash:generateContent", 403, {"error": {
        "code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}})
    host.route("GET", "/v1beta/models", 400, {"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}})
    client = genai.Client(api_key=GOOGLE_KEY, http_options=types.HttpOptions(base_url=host.url))
    exc = raised(lambda: client.models.generate_content(model="gemini-2.0-flash", contents="hi"))
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "gemini", exc, key=GOOGLE_KEY, base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pushed_reasons(pipe) == ["invalid_key"]
    (probe,) = host.hits_on("/v1beta/models")
    assert probe["headers"]["x-goog-api-key"] == GOOGLE_KEY and GOOGLE_KEY not in probe["path"]
    assert_no_key(pipe, capsys, caplog)


def test_deepgram_401_whose_projects_read_works(host, pipe, reporters, device):
    from deepgram import DeepgramClient
    from deepgram.environment import DeepgramClientEnvironment

    host.route("POST", "/v1/listen", 401, {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.",
                                           "request_id": "6e2a1f0c-2b1d-4c55-9e0b-0c3b1e2a7f11"})
    host.route("GET", "/v1/projects", 200, {"projects": [{"project_id": "p1", "name": "app"}]})
    ws = host.url.replace("http", "ws")
    environment = DeepgramClientEnvironment(base=host.url, production=host.url, agent=ws, agent_rest=host.url)
    client = DeepgramClient(api_key=DEEPGRAM_KEY, environment=environment)
    exc = raised(lambda: client.listen.v1.media.transcribe_url(url="https://example.invalid/a.wav"))
    assert reported(pipe, reporters, device, "deepgram", exc, DEEPGRAM_KEY, host.url) == ["not_actionable"]
    assert pipe.events[0]["verification"]["verdict"] == "key_works"
    (probe,) = host.hits_on("/v1/projects")
    assert probe["headers"]["authorization"] == f"Token {DEEPGRAM_KEY}"


@pytest.mark.parametrize("answer, verdict, reasons", [
    ({"subscription": {"tier": "free", "character_count": 10000, "character_limit": 10000}}, "no_credit",
     ["quota_exhausted"]),
    ({"subscription": {"tier": "starter", "character_count": 120, "character_limit": 30000}}, "key_works",
     ["quota_exhausted"]),      # some left, maybe not enough for this request: the classifier stands
])
def test_elevenlabs_quota_against_the_subscription_counts(host, pipe, reporters, device, answer, verdict, reasons):
    from elevenlabs import ElevenLabs

    host.route("POST", "/v1/text-to-speech/voice1", 401, {"detail": {
        "status": "quota_exceeded", "message": "This request exceeds your quota of 10000. You have 12 credits "
                                               "remaining, while 40 credits are required for this request."}})
    host.route("GET", "/v1/user", 200, answer)
    client = ElevenLabs(api_key=ELEVENLABS_KEY, base_url=host.url)
    exc = raised(lambda: b"".join(client.text_to_speech.convert(voice_id="voice1", text="hello")))
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "elevenlabs", exc, key=ELEVENLABS_KEY, base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    probe = probed_once(pipe, host, "/v1/user", reasons, verdict)
    assert probe["headers"]["xi-api-key"] == ELEVENLABS_KEY


def test_elevenlabs_key_without_the_user_read_permission_is_not_rejected(host, pipe, reporters, device):
    host.route("POST", "/v1/text-to-speech/voice1", 401, {"detail": {"status": "quota_exceeded",
                                                                     "message": "This request exceeds your quota."}})
    host.route("GET", "/v1/user", 401, {"detail": {"status": "missing_permissions",
                                                   "message": "The API key you used is missing the permission user_read"}})
    from elevenlabs import ElevenLabs

    client = ElevenLabs(api_key=ELEVENLABS_KEY, base_url=host.url)
    exc = raised(lambda: b"".join(client.text_to_speech.convert(voice_id="voice1", text="hello")))
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "elevenlabs", exc, key=ELEVENLABS_KEY, base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pushed_reasons(pipe) == ["quota_exhausted"]
    assert pipe.events[0]["verification"]["verdict"] == "unknown"


def test_openai_deactivated_account_is_not_read_as_a_rejected_key(host, pipe, reporters, device):
    """OpenAI answers every key of a deactivated account with a 401 `account_deactivated`, the models read too
    (the tenth held-out set's line 37): that is the account, so the probe says `unknown` and the classifier's
    permission_denied is what the user is told, not "your key is invalid"."""
    deactivated = {"error": {"message": "The OpenAI account associated with this API key has been deactivated. If "
                                        "you are the developer for this OpenAI app, please check your email for "
                                        "more information.", "type": "invalid_request_error", "param": None,
                             "code": "account_deactivated"}}
    host.route("POST", "/v1/chat/completions", 401, deactivated)
    host.route("GET", "/v1/models", 401, deactivated)
    outcomes = reported(pipe, reporters, device, "openai", openai_fails(host), OPENAI_KEY, host.url + "/v1")
    assert outcomes == ["sent"]
    assert pushed_reasons(pipe) == ["permission_denied"]
    assert pipe.events[0]["verification"]["verdict"] == "unknown"
    assert len(host.hits_on("/v1/models")) == 1


# --------------------------------------------------------------------------------------------------
# The reads added for Moonshot, SiliconFlow, Replicate, AssemblyAI, Cohere, Novita and SambaNova: each
# one against its fake provider, with a rejected key and a working one (and, for Moonshot's balance,
# a spent balance and one that can pay).

MOONSHOT_SUSPENDED = {"error": {"message": "Your account org-xxxx <ak-xxxx> is suspended due to insufficient "
                                           "balance, please recharge your account or check your plan and "
                                           "billing details", "type": "exceeded_current_quota_error"}}


def probed_once(pipe, host, path: str, reasons: list[str], verdict: str) -> dict:
    """The pushes and the verdict the event carried, checked; the one probe the fake provider saw on `path`."""
    assert pushed_reasons(pipe) == reasons
    assert pipe.events[0]["verification"]["verdict"] == verdict
    (probe,) = host.hits_on(path)
    return probe


def reported(pipe, reporters, device, provider: str, exc, key: str, base_url: str) -> list[str]:
    """Report one failure with its key and base_url; the notifier's outcomes."""
    reporter = reporters(topic=pipe.name)
    reporter.report(device, provider, exc, key=key, base_url=base_url)
    assert reporter.flush(20)
    return pipe.deliver(1)


@pytest.mark.parametrize("balance, verdict, outcome, reasons", [
    ({"available_balance": 0, "voucher_balance": 0, "cash_balance": -2.1}, "no_credit", "sent", ["quota_exhausted"]),
    ({"available_balance": 49.58894, "voucher_balance": 46.58893, "cash_balance": 3.00001}, "has_credit",
     "not_actionable", []),
])
def test_moonshot_429_against_its_balance(host, pipe, reporters, device, capsys, caplog, balance, verdict,
                                          outcome, reasons):
    """Kimi's /users/me/balance: at most 0 available, the account cannot call the inference API (one
    quota push); above 0 it can (no push)."""
    host.route("POST", "/v1/chat/completions", 429, MOONSHOT_SUSPENDED)
    host.route("GET", "/v1/users/me/balance", 200, {"code": 0, "data": balance, "scode": "0x0", "status": True})
    exc = openai_fails(host, key=MOONSHOT_KEY)
    assert reported(pipe, reporters, device, "moonshot", exc, MOONSHOT_KEY, host.url + "/v1") == [outcome]
    assert pushed_reasons(pipe) == reasons
    assert classify("moonshot", pipe.events[0]["error"]) == "quota_exhausted"     # what the text alone says
    assert pipe.events[0]["verification"] == {**pipe.events[0]["verification"], "probe": "GET /v1/users/me/balance",
                                              "status": 200, "verdict": verdict}
    (probe,) = host.hits_on("/v1/users/me/balance")
    assert probe["headers"]["authorization"] == f"Bearer {MOONSHOT_KEY}"
    assert_no_key(pipe, capsys, caplog)


def test_moonshot_bare_403_whose_balance_read_rejects_the_key(host, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/users/me/balance", 401, {"error": {"message": "Invalid Authentication",
                                                              "type": "invalid_authentication_error"}})
    exc = openai_fails(host, key=MOONSHOT_KEY)
    assert reported(pipe, reporters, device, "moonshot", exc, MOONSHOT_KEY, host.url + "/v1") == ["sent"]
    assert classify("moonshot", pipe.events[0]["error"]) is None                  # the text alone: nothing
    assert pushed_reasons(pipe) == ["invalid_key"]
    assert pipe.events[0]["verification"]["verdict"] == "key_rejected"


@pytest.mark.parametrize("failure, answer, verdict, outcome, reasons", [
    ((403, {"code": 30001, "message": "Sorry, your account balance is insufficient", "data": None}),
     (401, {"code": 20006, "message": "Invalid token", "data": None}), "key_rejected", "sent", ["invalid_key"]),
    ((401, {"code": 20006, "message": "Invalid token", "data": None}),
     (200, {"code": 20000, "message": "OK", "status": True,
            "data": {"status": "normal", "balance": "0.88", "chargeBalance": "88.00", "totalBalance": "88.88"}}),
     "key_works", "not_actionable", []),
    # the balance figures are not read (their meaning is not documented): a spent total is no no_credit,
    # and the classifier's quota_exhausted stands on its own
    ((403, {"code": 30001, "message": "Sorry, your account balance is insufficient", "data": None}),
     (200, {"code": 20000, "message": "OK", "status": True,
            "data": {"status": "normal", "balance": "0.00", "chargeBalance": "0.00", "totalBalance": "0.00"}}),
     "key_works", "sent", ["quota_exhausted"]),
])
def test_siliconflow_against_its_user_info(host, pipe, reporters, device, failure, answer, verdict, outcome, reasons):
    host.route("POST", "/v1/chat/completions", *failure)
    host.route("GET", "/v1/user/info", *answer)
    exc = openai_fails(host, key=SILICONFLOW_KEY)
    assert reported(pipe, reporters, device, "siliconflow", exc, SILICONFLOW_KEY, host.url + "/v1") == [outcome]
    probe = probed_once(pipe, host, "/v1/user/info", reasons, verdict)
    assert probe["headers"]["authorization"] == f"Bearer {SILICONFLOW_KEY}"


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}),
     "key_rejected", "sent", ["invalid_key"]),
    ((200, {"type": "user", "username": "someone", "name": "Some One"}), "key_works", "not_actionable", []),
])
def test_replicate_401_against_its_account_read(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    import httpx

    host.route("POST", "/v1/predictions", 401, {"title": "Unauthenticated", "status": 401,
                                                "detail": "You did not pass a valid authentication token"})
    host.route("GET", "/v1/account", *answer)
    exc = raised(lambda: httpx.post(host.url + "/v1/predictions", headers={"Authorization": f"Bearer {REPLICATE_KEY}"},
                                    json={"version": "5c7d5dc6", "input": {"text": "hi"}}).raise_for_status())
    assert isinstance(exc, httpx.HTTPStatusError)
    assert reported(pipe, reporters, device, "replicate", exc, REPLICATE_KEY, host.url + "/v1") == [outcome]
    assert pushed_reasons(pipe) == reasons
    assert pipe.events[0]["verification"] == {**pipe.events[0]["verification"], "probe": "GET /v1/account",
                                              "verdict": verdict}
    (probe,) = host.hits_on("/v1/account")
    assert probe["headers"]["authorization"] == f"Bearer {REPLICATE_KEY}"


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"error": "Authentication error, API token missing/invalid"}), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"page_details": {"limit": 1, "result_count": 0, "current_url": "", "prev_url": None, "next_url": None},
            "transcripts": []}), "key_works", "not_actionable", []),
])
def test_assemblyai_401_against_its_transcript_list(host, pipe, reporters, device, capsys, caplog, answer, verdict,
                                                    outcome, reasons):
    import requests

    host.route("POST", "/v2/transcript", 401, {"error": "Authentication error, API token missing/invalid"})
    host.route("GET", "/v2/transcript", *answer)
    exc = raised(lambda: requests.post(host.url + "/v2/transcript", headers={"Authorization": ASSEMBLYAI_KEY},
                                       json={"audio_url": "https://example.invalid/a.mp3"},
                                       timeout=10).raise_for_status())
    assert isinstance(exc, requests.HTTPError)
    assert reported(pipe, reporters, device, "assemblyai", exc, ASSEMBLYAI_KEY, host.url) == [outcome]
    assert pushed_reasons(pipe) == reasons
    assert pipe.events[0]["verification"]["verdict"] == verdict
    probe = [h for h in host.hits_on("/v2/transcript") if h["method"] == "GET"]
    assert len(probe) == 1 and probe[0]["path"] == "/v2/transcript?limit=1"
    assert probe[0]["headers"]["authorization"] == ASSEMBLYAI_KEY                 # the key alone, no scheme
    assert_no_key(pipe, capsys, caplog)


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"message": "invalid api token"}), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"models": [{"name": "command-a-03-2025", "endpoints": ["chat"]}], "next_page_token": "x"}),
     "key_works", "not_actionable", []),
])
def test_cohere_401_against_its_model_list(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    import httpx

    host.route("POST", "/v2/chat", 401, {"message": "invalid api token"})
    host.route("GET", "/v1/models", *answer)
    exc = raised(lambda: httpx.post(host.url + "/v2/chat", headers={"Authorization": f"Bearer {COHERE_KEY}"},
                                    json={"model": "command-a-03-2025",
                                          "messages": [{"role": "user", "content": "hi"}]}).raise_for_status())
    assert reported(pipe, reporters, device, "cohere", exc, COHERE_KEY, host.url) == [outcome]
    probe = probed_once(pipe, host, "/v1/models", reasons, verdict)
    assert probe["path"] == "/v1/models?page_size=1" and probe["headers"]["authorization"] == f"Bearer {COHERE_KEY}"


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"code": 401, "reason": "INVALID_API_KEY", "message": "The API key is invalid."}), "key_rejected", "sent",
     ["invalid_key"]),
    ((200, {"credit_balance": 52000, "allow_features": ["llm"]}), "key_works", "not_actionable", []),
    # a 403 (a key that may not read the account) says nothing of the key: the classifier decides
    ((403, {"code": 403, "reason": "ACCESS_DENY", "message": "Access denied"}), "unknown", "sent", ["invalid_key"]),
])
def test_novita_401_against_its_user_read(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    host.route("POST", "/v3/openai/chat/completions", 401, {"code": 401, "reason": "INVALID_API_KEY",
                                                            "message": "The API key is invalid."})
    host.route("GET", "/v3/user", *answer)
    exc = openai_fails(host, key=NOVITA_KEY, path="/v3/openai/chat/completions", base="/v3/openai")
    assert reported(pipe, reporters, device, "novita", exc, NOVITA_KEY, host.url + "/v3/openai") == [outcome]
    probe = probed_once(pipe, host, "/v3/user", reasons, verdict)
    assert probe["headers"]["authorization"] == f"Bearer {NOVITA_KEY}"


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"error": {"message": "Authentication credentials are missing or invalid.",
                      "type": "authentication_error"}}), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"object": "list", "data": [{"id": "Meta-Llama-3.3-70B-Instruct", "object": "model"}]}), "key_works",
     "not_actionable", []),
])
def test_sambanova_bare_403_against_its_model_list(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", *answer)
    exc = openai_fails(host, key=SAMBANOVA_KEY)
    assert reported(pipe, reporters, device, "sambanova", exc, SAMBANOVA_KEY, host.url + "/v1") == [outcome]
    assert classify("sambanova", pipe.events[0]["error"]) is None
    probe = probed_once(pipe, host, "/v1/models", reasons, verdict)
    assert probe["headers"]["authorization"] == f"Bearer {SAMBANOVA_KEY}"


# Reads added before the seventeenth held-out set (docs/publisher.md): speech hosts, Volcengine Ark, Pollinations,
# Gladia, Cloudflare Workers AI; with the thirty-fourth and thirty-fifth: StepFun's model list (checked without the key
# first), Firecrawl's credit read, Nomic's account read; after the thirty-seventh: DashScope's model list (checked
# without the key first, at DashScope's hosts only); after the forty-first: the Hugging Face Hub's token read (at the
# Hub only, and only where the failed call's host is known). Each: the failed call's 401 the classifier reads as a
# broken key, then the read.

DASHSCOPE_BAD_KEY = {"error": {"message": "Incorrect API key provided. ", "type": "invalid_request_error",
                               "code": "invalid_api_key"}}
CF_ACTIVE = {"success": True, "errors": [], "messages": [{"code": 10000, "message": "This API Token is valid and active"}],
             "result": {"id": "f267e341f3dd4697bd3b9f71dd96247f", "status": "active"}}
NEW_READS = {
    # provider: (key, base path, failed call (path, 401 body), probe path as sent, auth header, auth value)
    "speechmatics": (SPEECH_KEY, "", ("/v2/jobs/", {"code": 401, "error": "Permission Denied"}),
                     "/v2/jobs/?limit=1", "authorization", f"Bearer {SPEECH_KEY}"),
    "soniox": (SPEECH_KEY, "", ("/v1/transcriptions", {"status_code": 401, "error_type": "unauthenticated",
                                                       "message": "Incorrect API key provided."}),
               "/v1/files?limit=1", "authorization", f"Bearer {SPEECH_KEY}"),
    "rev_ai": (SPEECH_KEY, "/speechtotext/v1", ("/speechtotext/v1/jobs",
                                                {"title": "Authorization has been denied for this request"}),
               "/speechtotext/v1/account", "authorization", f"Bearer {SPEECH_KEY}"),
    "doubao": (ARK_KEY, "/api/v3", ("/api/v3/chat/completions", {"error": {
        "code": "AuthenticationError", "message": "The API key or AK/SK in the request is missing or invalid.",
        "param": "", "type": "Unauthorized"}}), "/api/v3/files?limit=1", "authorization", f"Bearer {ARK_KEY}"),
    "pollinations": (POLLINATIONS_KEY, "", ("/v1/chat/completions", {"error": {"message": "Invalid API key",
                                                                             "code": "UNAUTHORIZED"}}),
                     "/account/profile", "authorization", f"Bearer {POLLINATIONS_KEY}"),
    "gladia": (SPEECH_KEY, "", ("/v2/pre-recorded", {"statusCode": 401, "message": "Invalid or missing API key"}),
               "/v2/pre-recorded?limit=1", "x-gladia-key", SPEECH_KEY),
    "workers_ai": (CLOUDFLARE_TOKEN, "/client/v4/accounts/0123abcd/ai/v1", (
        "/client/v4/accounts/0123abcd/ai/v1/chat/completions",
        {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}),
        "/client/v4/user/tokens/verify", "authorization", f"Bearer {CLOUDFLARE_TOKEN}"),
    "stepfun": (STEPFUN_KEY, "/v1", ("/v1/chat/completions", {"error": {"message": "Incorrect API key provided",
                                                                        "type": "invalid_api_key"}}),
                "/v1/models", "authorization", f"Bearer {STEPFUN_KEY}"),
    "firecrawl": (FIRECRAWL_KEY, "", ("/v1/scrape", {"success": False, "error": "Unauthorized: Invalid token"}),
                  "/v1/team/credit-usage", "authorization", f"Bearer {FIRECRAWL_KEY}"),
    "nomic": (NOMIC_KEY, "", ("/v1/embedding/text", {"detail": "Could not validate credentials"}), "/v1/user",
              "authorization", f"Bearer {NOMIC_KEY}"),
    "qwen": (DASHSCOPE_KEY, "/compatible-mode/v1", ("/compatible-mode/v1/chat/completions", DASHSCOPE_BAD_KEY),
             "/compatible-mode/v1/models", "authorization", f"Bearer {DASHSCOPE_KEY}"),
    "huggingface": (HF_TOKEN, "", ("/api/models/org/model", {"error": "Invalid credentials in Authorization header"}),
                    "/api/whoami-v2", "authorization", f"Bearer {HF_TOKEN}"),
}
# reads checked without the key first: the keyless answer that lets the key be sent
KEYLESS = {"stepfun": (401, {"error": {"message": "Missing API key", "type": "invalid_api_key"}}),
           "qwen": (401, DASHSCOPE_BAD_KEY)}
NEW_ANSWERS = {
    # provider: ((answer, verdict), ...): the rejected key, the working key, and what the read cannot tell
    "speechmatics": (((401, {"code": 401, "error": "Permission Denied"}), "key_rejected"),
                     ((200, {"jobs": []}), "key_works")),
    "soniox": (((401, {"status_code": 401, "error_type": "unauthenticated", "message": "Incorrect API key provided."}),
                "key_rejected"), ((200, {"files": [], "next_page_cursor": None}), "key_works"),
               ((429, {"status_code": 429, "error_type": "limit_exceeded", "message": "Requests per minute limit"}),
                "unknown")),
    "rev_ai": (((401, {"title": "Authorization has been denied for this request"}), "key_rejected"),
               ((200, {"email": "someone@example.com", "balance_seconds": 0}), "key_works")),
    "doubao": (((401, {"error": {"code": "AuthenticationError", "message": "The API key or AK/SK in the request is "
                                 "missing or invalid.", "type": "Unauthorized"}}), "key_rejected"),
               ((200, {"object": "list", "data": [], "has_more": False}), "key_works"),
               ((403, {"error": {"code": "AccessDenied", "message": "The request failed because you do not have "
                                 "access to the requested resource.", "type": "Forbidden"}}), "unknown")),
    "pollinations": (((401, {"error": {"message": "Unauthorized"}}), "key_rejected"),
                     ((200, {"githubUsername": "someone", "tier": "seed", "nextResetAt": "2026-12-07T00:00:00Z"}),
                      "key_works")),
    "gladia": (((401, {"statusCode": 401, "message": "Invalid or missing API key"}), "key_rejected"),
               ((200, {"first": "", "current": "", "next": None, "items": []}), "key_works"),
               ((403, {"statusCode": 403, "message": "Forbidden resource"}), "unknown")),
    "workers_ai": (((200, {**CF_ACTIVE, "result": {**CF_ACTIVE["result"], "status": "expired"}}), "key_rejected"),
                   ((200, CF_ACTIVE), "key_works"),
                   # refused here is no verdict: an account-owned token is verified at the account's path
                   ((401, {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}), "unknown")),
    "stepfun": (((401, {"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}),
                 "key_rejected"), ((200, MODELS), "key_works")),
    "firecrawl": (((401, {"success": False, "error": "Unauthorized: Invalid token"}), "key_rejected"),
                  ((200, {"success": True, "data": {"remaining_credits": 480}}), "has_credit")),
    "nomic": (((401, {"detail": "Could not validate credentials"}), "key_rejected"),
              ((200, {"sub": "auth0|abc", "organizations": [], "default_organization": None}), "key_works")),
    "qwen": (((401, DASHSCOPE_BAD_KEY), "key_rejected"),
             ((200, {"object": "list", "data": [{"id": "qwen-plus", "object": "model"}]}), "key_works")),
    "huggingface": (((401, {"error": "Invalid user token"}), "key_rejected"),
                    ((200, {"type": "user", "name": "someone", "auth": {"accessToken": {"role": "read"}}}),
                     "key_works")),
}


@pytest.mark.parametrize("provider, answer, verdict", [(p, a, v) for p, answers in NEW_ANSWERS.items()
                                                       for a, v in answers])
def test_each_added_read(host, pipe, reporters, device, capsys, caplog, provider, answer, verdict):
    """The failed call's 401 reads as a broken key; the read decides: a rejected key is one invalid-key push, a
    working key (or one with credit) none, and an answer the read cannot tell leaves the classifier's reading; a read
    checked without the key first sends the key only after a keyless refusal."""
    import httpx

    key, base, (failed_path, failed_body), probe_path, header, value = NEW_READS[provider]
    host.route("POST", failed_path, 401, failed_body)
    keyless = {"keyless": KEYLESS[provider]} if provider in KEYLESS else {}
    host.route("GET", probe_path.split("?")[0], *answer, **keyless)
    exc = raised(lambda: httpx.post(host.url + failed_path, headers={"Authorization": f"Bearer {key}"},
                                    json={"model": "m"}).raise_for_status())
    assert classify(provider, {"status_code": 401, "body": failed_body}) == "invalid_key"
    outcome, reasons = {"key_rejected": ("sent", ["invalid_key"]), "key_works": ("not_actionable", []),
                        "has_credit": ("not_actionable", []), "unknown": ("sent", ["invalid_key"])}[verdict]
    assert reported(pipe, reporters, device, provider, exc, key, host.url + base) == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    *unkeyed, probe = [hit for hit in host.hits_on(probe_path.split("?")[0]) if hit["method"] == "GET"]
    assert len(unkeyed) == len(keyless) and all(header not in hit["headers"] for hit in unkeyed)
    assert probe["path"] == probe_path and probe["headers"][header] == value
    assert_no_key(pipe, capsys, caplog)


@pytest.mark.parametrize("provider, base_url, reason", [
    ("speechmatics", None, "host_unknown"),                                   # regional: EU, US, AU keys do not mix
    ("speechmatics", "https://eu2.rt.speechmatics.com/v2", "other_service"),  # the real-time host serves no job list
    ("rev_ai", None, "host_unknown"),
    ("volcengine", None, "host_unknown"),
    ("doubao", "https://ark.ap-southeast.bytepluses.com/api/v3", "other_service"),   # BytePlus: another platform
    ("soniox", "https://stt-rt.soniox.com", "other_service"),
    ("pollinations", "https://text.pollinations.ai/openai", "other_service"),
    ("cloudflare", "https://gateway.ai.cloudflare.com/v1/acc/gw/openai", "other_service"),   # AI Gateway, not Workers AI
    ("stepfun", None, "host_unknown"),                                        # regional: .com and .ai keys do not mix
    ("dashscope", None, "host_unknown"),                                      # regional: Beijing, Singapore, US keys
    ("aliyun", "https://mt.cn-hangzhou.aliyuncs.com/", "other_service"),      # Alibaba's machine translation
    ("huggingface", None, "host_unknown"),                        # the Hub, Inference Providers or an Endpoint: unknown
    ("hf", "https://router.huggingface.co/v1", "other_service"),  # Inference Providers serve no token read
    ("huggingface", "https://api-inference.huggingface.co/models/gpt2", "other_service"),
])
def test_the_added_reads_go_only_to_the_host_that_serves_them(provider, base_url, reason):
    from byok_reporter.probe import ProbeTable, load_table

    assert ProbeTable(load_table()).plan(provider, base_url, None) == (None, reason)


@pytest.mark.parametrize("provider, base_url, host_name, path", [
    ("speechmatics", "https://eu1.asr.api.speechmatics.com", "eu1.asr.api.speechmatics.com", "/v2/jobs/?limit=1"),
    ("rev_ai", "https://ec1.api.rev.ai/speechtotext/v1", "ec1.api.rev.ai", "/speechtotext/v1/account"),
    ("ark", "https://ark.cn-beijing.volces.com/api/v3", "ark.cn-beijing.volces.com", "/api/v3/files?limit=1"),
    ("soniox", None, "api.soniox.com", "/v1/files?limit=1"),
    ("pollinations", None, "gen.pollinations.ai", "/account/profile"),
    ("gladia", None, "api.gladia.io", "/v2/pre-recorded?limit=1"),
    ("workers_ai", "https://api.cloudflare.com/client/v4/accounts/acc/ai/v1", "api.cloudflare.com",
     "/client/v4/user/tokens/verify"),
    ("stepfun", "https://api.stepfun.ai/v1", "api.stepfun.ai", "/v1/models"),
    ("step_fun", "https://api.stepfun.com/v1", "api.stepfun.com", "/v1/models"),
    ("firecrawl", None, "api.firecrawl.dev", "/v1/team/credit-usage"),
    ("firecrawl", "https://api.firecrawl.dev/v2", "api.firecrawl.dev", "/v1/team/credit-usage"),
    ("nomic_embed", None, "api-atlas.nomic.ai", "/v1/user"),
    ("dashscope", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "dashscope-intl.aliyuncs.com",
     "/compatible-mode/v1/models"),
    ("qwen", "https://dashscope.aliyuncs.com/api/v1", "dashscope.aliyuncs.com", "/api/v1/models"),
    ("bailian", "https://ws-1a2b.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
     "ws-1a2b.ap-southeast-1.maas.aliyuncs.com", "/compatible-mode/v1/models"),
    ("hugging_face", "https://huggingface.co", "huggingface.co", "/api/whoami-v2"),
])
def test_the_added_reads_are_planned_at_the_call_host(provider, base_url, host_name, path):
    from byok_reporter.probe import ProbeTable, load_table

    plan, why = ProbeTable(load_table()).plan(provider, base_url, None)
    assert why == "" and (plan.scheme, plan.host, plan.port, plan.path) == ("https", host_name, 443, path)


# --------------------------------------------------------------------------------------------------
# Relays and gateways (LiteLLM, new-api, one-api, any OpenAI-compatible server): the table knows their software,
# not their vendor, so each read is first made without the key; only a host that refuses it gets the key.

RELAY_KEY = "sk-" + "Lr4Vt8Nx2Qm6Pz1Wy5Hc9Dj3Fg7Ka0SbEu4Io8Ul2"
KEYS.append(RELAY_KEY)
LITELLM_BUDGET = {"error": {"message": "Budget has been exceeded! Current cost: 2.1034, Max budget: 2.0",
                            "type": "budget_exceeded", "param": None, "code": "400"}}
LITELLM_UNKNOWN_KEY = {"error": {"message": "Authentication Error, Invalid proxy server token passed. Unable to find "
                                            "token in cache or `LiteLLM_VerificationTokenTable`",
                                 "type": "auth_error", "param": "None", "code": "401"}}
NO_KEY_ANSWER = (401, {"error": {"message": "Authentication Error, No api key passed in.", "type": "auth_error"}})


def relay_fails(host: FakeHost, status: int, body: dict, base: str = "/v1"):
    host.route("POST", base + "/chat/completions", status, body)
    return openai_fails(host, key=RELAY_KEY, base=base)


def keyless_then_keyed(host: FakeHost, path: str) -> dict:
    """The read was made twice: first with no credential at all, then with the key as Bearer; the keyed one."""
    first, second = host.hits_on(path)
    assert not {"authorization", "api-key", "x-api-key"} & set(first["headers"])
    assert second["headers"]["authorization"] == f"Bearer {RELAY_KEY}"
    return second


@pytest.mark.parametrize("info, verdict, outcome, reasons", [
    ({"spend": 2.1034, "max_budget": 2.0}, "no_credit", "sent", ["quota_exhausted"]),
    ({"spend": 0.4, "max_budget": 2.0}, "key_works", "sent", ["quota_exhausted"]),
    ({"spend": 0.4, "max_budget": None}, "key_works", "sent", ["quota_exhausted"]),
])
def test_litellm_budget_error_against_the_virtual_keys_own_budget(host, pipe, reporters, device, capsys, caplog,
                                                                  info, verdict, outcome, reasons):
    """LiteLLM's "Budget has been exceeded!" on the user's own gateway is a budget its admin set, spent: money
    (the `litellm` table, since the twenty-second set). The gateway answers /key/info for the virtual key that
    failed: its own budget spent confirms it; room on it does not refute it, since the budget spent may be the
    key's user's or team's, which that read does not show (one quota push either way)."""
    exc = relay_fails(host, 400, LITELLM_BUDGET)
    host.route("GET", "/key/info", 200, {"key": "88dc28d0f0b7", "info": {"key_alias": "omi", **info}},
               keyless=NO_KEY_ANSWER)
    assert reported(pipe, reporters, device, "litellm", exc, RELAY_KEY, host.url + "/v1") == [outcome]
    assert classify("litellm", pipe.events[0]["error"]) == "quota_exhausted"          # what the text alone says
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    assert pipe.events[0]["verification"]["probe"] == "GET /key/info"
    keyless_then_keyed(host, "/key/info")
    assert_no_key(pipe, capsys, caplog)


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, LITELLM_UNKNOWN_KEY), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"key": "88dc28d0f0b7", "info": {"spend": 0.0, "max_budget": None}}), "key_works", "not_actionable", []),
])
def test_litellm_401_against_key_info(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    exc = relay_fails(host, 401, LITELLM_UNKNOWN_KEY)
    host.route("GET", "/key/info", *answer, keyless=NO_KEY_ANSWER)
    assert reported(pipe, reporters, device, "LiteLLM-Proxy", exc, RELAY_KEY, host.url + "/v1") == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    keyless_then_keyed(host, "/key/info")


NEW_API_USAGE = {"object": "token_usage", "name": "omi", "total_granted": 500000, "total_used": 500000,
                 "unlimited_quota": False, "model_limits": {}, "model_limits_enabled": False, "expires_at": 0}


@pytest.mark.parametrize("failure, answer, verdict, outcome, reasons", [
    # an intermittent "invalid token" from a relay whose token reads fine: not the user's key
    ((401, {"error": {"message": "token status unavailable", "type": "new_api_error"}}),
     (200, {"code": True, "message": "ok", "data": {**NEW_API_USAGE, "total_used": 120, "total_available": 499880}}),
     "key_works", "not_actionable", []),
    ((401, {"error": {"message": "无效的令牌", "type": "new_api_error"}}),
     (401, {"success": False, "message": "token not found"}), "key_rejected", "sent", ["invalid_key"]),
    # a bare 403 whose token's own quota is spent
    ((403, {"error": {"message": "Forbidden", "type": "new_api_error"}}),
     (200, {"code": True, "message": "ok", "data": {**NEW_API_USAGE, "total_available": 0}}),
     "no_credit", "sent", ["quota_exhausted"]),
    # an unlimited token: the read proves the key, never that money is left
    ((403, {"error": {"message": "该令牌额度已用尽", "type": "new_api_error"}}),
     (200, {"code": True, "message": "ok", "data": {**NEW_API_USAGE, "unlimited_quota": True, "total_available": 0}}),
     "key_works", "sent", ["quota_exhausted"]),
])
def test_new_api_against_the_tokens_own_usage(host, pipe, reporters, device, failure, answer, verdict, outcome,
                                              reasons):
    """new-api's GET /api/usage/token, from the relay's root, describes the token that failed."""
    exc = relay_fails(host, *failure)
    host.route("GET", "/api/usage/token", *answer, keyless=(401, {"success": False,
                                                                  "message": "No Authorization header"}))
    assert reported(pipe, reporters, device, "new-api", exc, RELAY_KEY, host.url + "/v1") == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    keyless_then_keyed(host, "/api/usage/token")


@pytest.mark.parametrize("provider", ["openai_compatible", "custom_openai", "one-api"])
@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}}), "key_rejected", "sent",
     ["invalid_key"]),
    ((200, MODELS), "key_works", "not_actionable", []),
])
def test_openai_compatible_401_against_its_model_list(host, pipe, reporters, device, provider, answer, verdict,
                                                      outcome, reasons):
    exc = relay_fails(host, 401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
    host.route("GET", "/v1/models", *answer, keyless=(401, {"error": {"message": "Missing API key"}}))
    assert reported(pipe, reporters, device, provider, exc, RELAY_KEY, host.url + "/v1") == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    keyless_then_keyed(host, "/v1/models")


def test_a_relay_whose_read_is_public_never_gets_the_key(host, pipe, reporters, device, capsys, caplog):
    """A server that lists its models to anyone (Ollama, vLLM without --api-key) would answer the keyed read with 200
    too, proving nothing: the keyless read's 200 ends the probe, the key is not sent, and the text decides."""
    exc = relay_fails(host, 401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
    host.route("GET", "/v1/models", 200, MODELS)
    assert reported(pipe, reporters, device, "openai_compatible", exc, RELAY_KEY, host.url + "/v1") == ["sent"]
    assert pushed_reasons(pipe) == ["invalid_key"]
    assert pipe.events[0]["verification"] == {**pipe.events[0]["verification"], "status": 200, "verdict": "unknown"}
    (only,) = host.hits_on("/v1/models")
    assert "authorization" not in only["headers"]
    assert_no_key(pipe, capsys, caplog)


def test_relays_are_probed_only_at_the_host_the_backend_names():
    """A relay has no official host: without the backend's base_url there is no probe, and the read goes to the
    base_url's host (from its root for LiteLLM's and new-api's own routes, under its path for /models)."""
    from byok_reporter.probe import ProbeTable, load_table

    table = ProbeTable(load_table())
    for slug in ("litellm", "new_api", "one_api", "openai_compatible", "openai-like"):
        assert table.plan(slug, None, None) == (None, "host_unknown")
        assert table.plan(slug, None, "https://relay.example.com/v1/chat/completions") == (None, "host_unknown")
    for slug, path in (("litellm", "/key/info"), ("newapi", "/api/usage/token"), ("oneapi", "/gw/v1/models"),
                       ("openai_compat", "/gw/v1/models")):
        plan, why = table.plan(slug, "https://relay.example.com/gw/v1", None)
        assert why == "" and (plan.host, plan.path, plan.auth, plan.control) == ("relay.example.com", path, "bearer",
                                                                                 True)
    assert table.plan("litellm", "https://relay.example.com/v1", "https://other.example.com/v1/chat/completions") \
        == (None, "other_host")
    assert not table.plan("openai", None, None)[0].control      # a vendor's documented read needs no control


# --------------------------------------------------------------------------------------------------
# Speech: Azure AI Speech's voice list (at the region's text-to-speech host only) and Google Cloud Text-to-Speech's
# (with Google API keys only).

AZURE_SPEECH_KEY = "9d4c2b7e1f0a4e6d8c3b5a7f9e1d2c4b"
GOOGLE_OAUTH_TOKEN = "ya29.a0AfB_" + "byDq9Zr3Xw7Lm2Nv5Kt8Ph1Js4Gf6Cd0Ae" * 3
KEYS.extend([AZURE_SPEECH_KEY, GOOGLE_OAUTH_TOKEN])
VOICES = [{"Name": "Microsoft Server Speech Text to Speech Voice (en-US, AvaNeural)", "ShortName": "en-US-AvaNeural",
           "Gender": "Female", "Locale": "en-US", "SampleRateHertz": "48000", "VoiceType": "Neural",
           "Status": "GA"}]


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, b""), "key_rejected", "sent", ["invalid_key"]),
    ((200, VOICES), "key_works", "not_actionable", []),
])
def test_azure_speech_401_against_its_voice_list(host, pipe, reporters, device, capsys, caplog, answer, verdict,
                                                 outcome, reasons):
    """The TTS REST call answers a bare 401 (Azure sends no body); the region's voice list, read with the same
    Ocp-Apim-Subscription-Key, tells a refused key from a call that was at fault."""
    import requests

    host.route("POST", "/cognitiveservices/v1", 401, b"")
    host.route("GET", "/cognitiveservices/voices/list", *answer)
    exc = raised(lambda: requests.post(host.url + "/cognitiveservices/v1", data=b"<speak/>", timeout=5, headers={
        "Ocp-Apim-Subscription-Key": AZURE_SPEECH_KEY, "Content-Type": "application/ssml+xml",
        "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm"}).raise_for_status())
    assert reported(pipe, reporters, device, "azure-tts", exc, AZURE_SPEECH_KEY, host.url) == [outcome]
    probe = probed_once(pipe, host, "/cognitiveservices/voices/list", reasons, verdict)
    assert probe["headers"]["ocp-apim-subscription-key"] == AZURE_SPEECH_KEY and "authorization" not in probe["headers"]
    assert_no_key(pipe, capsys, caplog)


def test_azure_speech_is_read_only_at_a_regions_text_to_speech_host():
    from byok_reporter.probe import ProbeTable, load_table

    table = ProbeTable(load_table())
    plan, why = table.plan("azure_speech", "https://westeurope.tts.speech.microsoft.com", None)
    assert why == "" and (plan.host, plan.path, plan.auth) == ("westeurope.tts.speech.microsoft.com",
                                                                "/cognitiveservices/voices/list",
                                                                "Ocp-Apim-Subscription-Key")
    assert table.plan("azure_speech", "https://chinaeast2.tts.speech.azure.cn", None)[1] == ""
    for elsewhere in ("https://westeurope.stt.speech.microsoft.com", "https://westeurope.api.cognitive.microsoft.com",
                      "https://contoso.cognitiveservices.azure.com", "https://tts.speech.microsoft.com.evil.example"):
        assert table.plan("azure_speech", elsewhere, None) == (None, "other_service"), elsewhere
    assert table.plan("azure_speech", None, None) == (None, "host_unknown")


GOOGLE_KEY_INVALID = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                "status": "INVALID_ARGUMENT",
                                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                             "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                                             "metadata": {"service": "texttospeech.googleapis.com"}}]}}
TTS_DISABLED = {"error": {"code": 403, "message": "Cloud Text-to-Speech API has not been used in project 123456789012 "
                                                  "before or it is disabled.", "status": "PERMISSION_DENIED",
                          "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                       "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
                                       "metadata": {"service": "texttospeech.googleapis.com"}}]}}
TTS_FORBIDDEN = {"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}


@pytest.mark.parametrize("failure, answer, verdict, outcome, reasons", [
    ((403, TTS_FORBIDDEN), (400, GOOGLE_KEY_INVALID), "key_rejected", "sent", ["invalid_key"]),
    ((400, GOOGLE_KEY_INVALID), (200, {"voices": [{"languageCodes": ["en-US"], "name": "en-US-Neural2-A"}]}),
     "key_works", "not_actionable", []),
    # the key is fine and the API is off in its project: the classifier's permission_denied stands
    ((403, TTS_DISABLED), (403, TTS_DISABLED), "unknown", "sent", ["permission_denied"]),
])
def test_google_tts_against_its_voice_list(host, pipe, reporters, device, failure, answer, verdict, outcome, reasons):
    import httpx

    host.route("POST", "/v1/text:synthesize", *failure)
    host.route("GET", "/v1/voices", *answer)
    exc = raised(lambda: httpx.post(host.url + "/v1/text:synthesize", headers={"x-goog-api-key": GOOGLE_KEY},
                                    json={"input": {"text": "hi"}, "voice": {"languageCode": "en-US"},
                                          "audioConfig": {"audioEncoding": "MP3"}}).raise_for_status())
    assert reported(pipe, reporters, device, "google_tts", exc, GOOGLE_KEY, host.url) == [outcome]
    probe = probed_once(pipe, host, "/v1/voices", reasons, verdict)
    assert probe["path"] == "/v1/voices?languageCode=en-US" and probe["headers"]["x-goog-api-key"] == GOOGLE_KEY


def test_google_tts_is_read_only_with_a_google_api_key(host, pipe, reporters, device):
    """An OAuth access token (a service account's, ADC's) sent as an API key would be refused whatever its state:
    no probe, and the text decides."""
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "google_tts", {"status_code": 401, "message": "Request had invalid authentication "
                                           "credentials. Expected OAuth 2 access token, login cookie or other valid "
                                           "authentication credential."}, key=GOOGLE_OAUTH_TOKEN, base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) and "verification" not in pipe.events[0] and host.hits == []
    assert reporter.stats()["probe_skipped_key_form"] == 1


# --------------------------------------------------------------------------------------------------
# A key the backend mangled (quotes kept, `undefined`, a list's repr, the scheme twice): the reporter sees it without
# asking anyone, the key goes to no probe, no user is told, and the notifier logs an error for the developers.

@pytest.mark.parametrize("mangled, form, text_says", [
    (f'"{OPENAI_KEY}"', "quoted", "invalid_key"), ("undefined", "non_value", "invalid_key"),
    ("[False, True]", "serialized", "invalid_key"), (f"Bearer {OPENAI_KEY}", "auth_scheme", "invalid_key"),
    (OPENAI_KEY[:20] + "\x1b[2~" + OPENAI_KEY[20:], "control_chars", "invalid_key"),
    ("  ", "blank", None),                  # httpx refuses the header before any request: a connection error
])
def test_a_mangled_key_is_our_bug_not_the_users(host, pipe, reporters, device, capsys, caplog, mangled, form,
                                                text_says):
    host.route("POST", "/v1/chat/completions", 401, OPENAI_BAD_KEY)
    host.route("GET", "/v1/models", 200, MODELS)
    exc = openai_fails(host, key=mangled)
    reporter = reporters(topic=pipe.name)
    with caplog.at_level(logging.WARNING, logger="byok_reporter"):
        reporter.report(device, "openai", exc, key=mangled, base_url=host.url + "/v1")
        assert reporter.flush(20)
    assert pipe.deliver(1) == ["key_malformed"] and pipe.fcm.delivered() == []
    assert classify("openai", pipe.events[0]["error"]) == text_says              # what the text alone says
    verification = pipe.events[0]["verification"]
    assert (verification["probe"], verification["status"], verification["verdict"]) == (f"LOCAL /key/{form}", None,
                                                                                          "key_malformed")
    assert host.hits_on("/v1/models") == []                                       # the key went to no probe
    assert reporter.stats()[f"key_malformed_{form}"] == 1 and reporter.stats().get("probes", 0) == 0
    out = capsys.readouterr().out
    (line,) = notifier_lines(out)
    assert (line["severity"], line["decided_by"], line.get("classifier_reason")) == ("ERROR",
                                                                                 "verification:key_malformed",
                                                                                 text_says)
    assert form in caplog.text
    text = "\n".join(r.decode() for r in pipe.raw)
    for part in (mangled.strip('" '), OPENAI_KEY, OPENAI_KEY[-16:]) if mangled.strip() else ():
        assert part not in caplog.text and part not in out and part not in text


@pytest.mark.parametrize("provider, url, owner", [
    ("azure_openai", "https://api.openai.com/v1/chat/completions", "openai"),   # Azure settings the SDK ignored
    ("Azure", "https://api.openai.com/v1/embeddings", "openai"),                # an alias resolves first
    ("openai", "https://openrouter.ai/api/v1/chat/completions", "openrouter"),
    ("deepseek", "https://api.openai.com/v1/embeddings", "openai"),             # a default embedder's host
    ("openai_compatible", "https://api.openai.com/v1/models", "openai"),        # the notifier relates these two
    ("openai", "https://api.openai.com/v1/chat/completions", None),             # its own host
    ("openai_realtime", "https://api.openai.com/v1/realtime", None),            # a slug that shares it
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/models", None),
    ("google", "https://generativelanguage.googleapis.com/v1beta/models", None),
    ("openai", "https://my-relay.example.com/v1/chat/completions", None),       # a host no entry names
    ("openai", "http://127.0.0.1:8080/v1/chat/completions", None),
    ("bedrock", "https://bedrock-runtime.eu-west-1.amazonaws.com/model/x/invoke", None),   # another region's host
    ("no_such_provider", "https://api.openai.com/v1", None), ("openai", None, None), ("openai", "not a url", None),
])
def test_a_failed_call_at_another_providers_official_host_is_named(provider, url, owner):
    from byok_reporter.probe import ProbeTable, load_table

    assert ProbeTable(load_table()).misdirected(provider, url) == owner


# --------------------------------------------------------------------------------------------------
# A failed call that went to another provider's official host (an Azure OpenAI event whose SDK called api.openai.com,
# the OpenRouter slot's call at OpenAI): the reporter sees it in the exception's request URL, probes nothing, and the
# notifier tells no one where the two providers never take one key. Here the FakeHost stands in for api.openai.com: a
# copy of the packaged table names it OpenAI's official host.

def _table_with_openai_at(url: str) -> dict:
    import copy

    from byok_reporter.probe import load_table

    table = copy.deepcopy(load_table())
    for entry in table["providers"].values():      # openai and the slugs that share its host
        if entry and entry.get("base_url") == "https://api.openai.com/v1":
            entry["base_url"] = url
    return table


def test_a_key_sent_to_another_providers_host_is_our_bug_not_the_users(host, pipe, reporters, device, capsys, caplog):
    host.route("POST", "/v1/chat/completions", 401, OPENAI_BAD_KEY)
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)                                     # the SDK called "OpenAI", whatever the backend meant
    reporter = reporters(topic=pipe.name, probe_table=_table_with_openai_at(host.url + "/v1"))
    with caplog.at_level(logging.WARNING, logger="byok_reporter"):
        reporter.report(device, "azure_openai", exc, key=OPENAI_KEY)
        assert reporter.flush(20)
    assert pipe.deliver(1) == ["key_misdirected"] and pipe.fcm.delivered() == []
    assert classify("azure_openai", pipe.events[0]["error"]) == "invalid_key"     # what the text alone says
    verification = pipe.events[0]["verification"]
    assert (verification["probe"], verification["status"], verification["verdict"]) == ("LOCAL /host/openai", None,
                                                                                          "key_misdirected")
    assert host.hits_on("/v1/models") == []                                       # the key went to no probe
    assert reporter.stats()["key_misdirected_openai"] == 1 and reporter.stats().get("probes", 0) == 0
    (line,) = notifier_lines(capsys.readouterr().out)
    assert (line["severity"], line["outcome"], line["host_of"], line["classifier_reason"]) == (
        "ERROR", "key_misdirected", "openai", "invalid_key")
    assert "azure_openai" in caplog.text and "openai's host" in caplog.text and OPENAI_KEY not in caplog.text
    assert pipe.db.document(f"users/{device}/byok_status/azure_openai").get().to_dict() is None   # nothing shown


def test_a_host_that_takes_the_same_key_is_left_to_the_classifier(host, pipe, reporters, device):
    """The generic relay slot may point at OpenAI itself, and OpenAI's Realtime slug is OpenAI's key: the user hears
    of their broken key as before."""
    host.route("POST", "/v1/chat/completions", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name, probe_table=_table_with_openai_at(host.url + "/v1"), probe=False)
    reporter.report(device, "openai_compatible", exc, key=OPENAI_KEY)   # flagged by the reporter, related here
    reporter.report(device, "openai_realtime", exc, key=OPENAI_KEY)     # the same host: not flagged at all
    assert reporter.flush(20)
    assert sorted(pipe.deliver(2)) == ["sent", "sent"]
    verdicts = {e["provider"]: (e.get("verification") or {}).get("verdict") for e in pipe.events}
    assert verdicts == {"openai_compatible": "key_misdirected", "openai_realtime": None}
    assert sorted(m["message"]["data"]["reason"] for m in pipe.fcm.delivered()) == ["invalid_key", "invalid_key"]


def test_a_relay_key_at_openais_host_is_our_bug_when_the_app_set_up_the_relay(host, pipe, reporters, device, capsys):
    """A client that ignored the relay's base URL and called the SDK's default host (OpenAI's): the backend named the
    relay, so the reporter sees the call miss it (`LOCAL /base/openai`), and the generic slot, which elsewhere may
    point at OpenAI itself, is no reason to tell the user of a key that never went where they put it."""
    host.route("POST", "/v1/chat/completions", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name, probe_table=_table_with_openai_at(host.url + "/v1"), probe=False)
    reporter.report(device, "openai_compatible", exc, key=OPENAI_KEY, base_url="https://relay.example.com/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["key_misdirected"] and pipe.fcm.delivered() == []
    verification = pipe.events[0]["verification"]
    assert (verification["probe"], verification["verdict"]) == ("LOCAL /base/openai", "key_misdirected")
    (line,) = notifier_lines(capsys.readouterr().out)
    assert (line["severity"], line["outcome"], line["host_of"], line["missed_base_url"]) == (
        "ERROR", "key_misdirected", "openai", True)
    assert pipe.db.document(f"users/{device}/byok_status/openai_compatible").get().to_dict() is None


def test_a_relay_slot_set_up_with_openais_own_url_keeps_the_users_answer(host, pipe, reporters, device):
    """The same slot set up with OpenAI's own base URL: the call went where the user put the key, so only the host
    check speaks (`LOCAL /host/openai`), the slots take one key, and the user hears of their broken key."""
    host.route("POST", "/v1/chat/completions", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name, probe_table=_table_with_openai_at(host.url + "/v1"), probe=False)
    reporter.report(device, "openai_compatible", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pipe.events[0]["verification"]["probe"] == "LOCAL /host/openai"
    assert [m["message"]["data"]["reason"] for m in pipe.fcm.delivered()] == ["invalid_key"]


@pytest.mark.parametrize("base_url,failed,elsewhere", [
    ("https://relay.example.com/v1", "https://api.openai.com/v1/embeddings", True),
    ("https://api.openai.com/v1", "https://api.openai.com/v1/embeddings", False),      # the same origin, any path
    ("https://API.openai.com:443/", "https://api.openai.com/v1/models", False),        # case and default port
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1/models", True),             # another port
    (None, "https://api.openai.com/v1/models", False),                                 # no base URL given
    ("https://relay.example.com/v1", None, False),                                     # the exception kept no URL
    ("not a url", "https://api.openai.com/v1/models", False),
    ("https://user:pass@relay.example.com/v1", "https://api.openai.com/v1/models", False),   # refused as a base
])
def test_a_call_that_missed_the_base_url_set_up_is_told_apart(base_url, failed, elsewhere):
    from byok_reporter.probe import elsewhere as missed

    assert missed(base_url, failed) is elsewhere


def test_a_mangled_key_is_seen_on_any_provider_and_any_failure(host, pipe, reporters, device):
    """No probe is needed to see it: a provider without a read and a quota answer are not the user's either."""
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "perplexity", {"status_code": 401, "message": "Invalid API key"}, key="null")
    reporter.report(device, "openai", {"status_code": 429, "code": "insufficient_quota",
                                       "message": "You exceeded your current quota"}, key="'sk-proj-abc'")
    reporter.report(device, "deepseek", {"status_code": 401, "message": "Authentication Fails"}, key="")  # none to send
    reporter.report(device, "openai", {"status_code": 401, "message": "Incorrect API key provided"},
                    key="sk-proj-" + "a" * 40, base_url=host.url + "/v1")     # a key of a real shape: probed
    assert reporter.flush(20)
    assert sorted(pipe.deliver(4)) == ["key_malformed", "key_malformed", "key_malformed", "sent"]
    verdicts = {e["provider"] + str(e["error"].get("status_code")): e["verification"]["verdict"] for e in pipe.events}
    assert verdicts == {"perplexity401": "key_malformed", "openai429": "key_malformed", "deepseek401": "key_malformed",
                        "openai401": "key_rejected"}
    assert [m["message"]["data"]["reason"] for m in pipe.fcm.delivered()] == ["invalid_key"]


@pytest.mark.parametrize("provider, base_url, host_name, path, auth", [
    ("moonshot", "https://api.moonshot.cn/v1", "api.moonshot.cn", "/v1/users/me/balance", "bearer"),
    ("siliconflow", "https://api.siliconflow.com/v1", "api.siliconflow.com", "/v1/user/info", "bearer"),
    ("replicate", None, "api.replicate.com", "/v1/account", "bearer"),
    ("assemblyai", "https://api.eu.assemblyai.com", "api.eu.assemblyai.com", "/v2/transcript?limit=1",
     "Authorization"),
    ("cohere", None, "api.cohere.com", "/v1/models?page_size=1", "bearer"),
    ("novita", None, "api.novita.ai", "/v3/user", "bearer"),
    ("sambanova", None, "api.sambanova.ai", "/v1/models", "bearer"),
    ("azure_openai", "https://contoso.openai.azure.com/openai/v1", "contoso.openai.azure.com",
     "/openai/models?api-version=2024-10-21", "api-key"),
    ("openai_realtime", None, "api.openai.com", "/v1/models", "bearer"),
    ("openai-rt", None, "api.openai.com", "/v1/models", "bearer"),
])
def test_each_new_read_is_planned_at_the_host_of_the_call(provider, base_url, host_name, path, auth):
    """Where each new read would go (planned only: nothing leaves this process)."""
    from byok_reporter.probe import ProbeTable, load_table

    plan, why = ProbeTable(load_table()).plan(provider, base_url, None)
    assert why == "" and (plan.scheme, plan.host, plan.port, plan.path, plan.auth) == ("https", host_name, 443, path,
                                                                                       auth)
    assert plan.label == f"GET {path}"


def test_a_regional_provider_is_probed_only_where_the_call_went(pipe, reporters, device):
    """Moonshot, SiliconFlow and AssemblyAI serve regions on their own hosts, whose keys may not work
    across them: with neither a base_url nor the failed call's URL there is no probe (never the default
    host by guess);
    a known failed URL is probed there if it is the default host, else not at all."""
    from byok_reporter.probe import ProbeTable, load_table

    table = ProbeTable(load_table())
    for regional in ("moonshot", "siliconflow", "assemblyai"):
        assert table.plan(regional, None, None) == (None, "host_unknown")
    assert table.plan("moonshot", None, "https://api.moonshot.cn/v1/chat/completions") == (None, "other_host")
    plan, _ = table.plan("moonshot", None, "https://api.moonshot.ai/v1/chat/completions")
    assert (plan.host, plan.path) == ("api.moonshot.ai", "/v1/users/me/balance")
    for single, official in (("replicate", "api.replicate.com"), ("cohere", "api.cohere.com"),
                             ("novita", "api.novita.ai"), ("sambanova", "api.sambanova.ai")):
        plan, why = table.plan(single, None, None)                                # one host each: their own
        assert why == "" and plan.host == official
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "moonshot", {"status_code": 401, "message": "Invalid Authentication"}, key=MOONSHOT_KEY)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"] and "verification" not in pipe.events[0]
    assert reporter.stats()["probe_skipped_host_unknown"] == 1 and reporter.stats().get("probes", 0) == 0


def test_azure_openai_is_probed_only_at_the_resource_the_backend_names(pipe, reporters, device):
    """Azure OpenAI has a host per resource and no official one: without the backend's base_url there is no
    probe, whatever URL the failure carried."""
    from byok_reporter.probe import ProbeTable, load_table

    table = ProbeTable(load_table())
    assert table.plan("azure_openai", None, None) == (None, "host_unknown")
    assert table.plan("azure", None, "https://contoso.openai.azure.com/openai/deployments/x/chat/completions") \
        == (None, "host_unknown")
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "azure_openai", {"status_code": 401, "message": "Access denied due to invalid subscription "
                                             "key or wrong API endpoint."}, key=AZURE_KEY)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"] and "verification" not in pipe.events[0]
    assert reporter.stats()["probe_skipped_host_unknown"] == 1


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((401, {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API "
                                               "endpoint."}}), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"data": [{"id": "gpt-4o", "object": "model", "status": "succeeded"}], "object": "list"}), "key_works",
     "not_actionable", []),
])
def test_azure_openai_401_against_its_model_list(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    """The openai SDK's AzureOpenAI client fails against the fake resource; the probe reads that resource's model
    list with the api-key header, and a key that reads it is not told it is invalid."""
    import openai

    host.route("POST", "/openai/deployments/gpt-4o/chat/completions", 401,
               {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API "
                                                    "endpoint. Make sure to provide a valid key for an active "
                                                    "subscription and use a correct regional API endpoint for your "
                                                    "resource."}})
    host.route("GET", "/openai/models", *answer)
    client = openai.AzureOpenAI(api_key=AZURE_KEY, azure_endpoint=host.url, api_version="2024-10-21", max_retries=0)
    exc = raised(lambda: client.chat.completions.create(model="gpt-4o",
                                                        messages=[{"role": "user", "content": "hi"}]))
    assert isinstance(exc, openai.AuthenticationError)
    assert reported(pipe, reporters, device, "azure_openai", exc, AZURE_KEY, host.url) == [outcome]
    probe = probed_once(pipe, host, "/openai/models", reasons, verdict)
    assert probe["path"] == "/openai/models?api-version=2024-10-21" and probe["headers"]["api-key"] == AZURE_KEY
    assert "authorization" not in probe["headers"]


# --------------------------------------------------------------------------------------------------
# AWS: Bedrock (and Claude on Bedrock) and Polly. The key is AWS credentials, so the probe signs its read with
# Signature Version 4 (aws.py); a Bedrock API key goes as a Bearer token. boto3 fails against the fake region.

AWS_CREDENTIALS = {"aws_access_key_id": "AKIAZ7EXAMPLEQ3RT2LK", "aws_secret_access_key": AWS_SECRET,
                   "aws_session_token": AWS_TOKEN, "region_name": "eu-west-3"}
UNRECOGNIZED = {"message": "The security token included in the request is invalid."}
NOVA = "/model/amazon.nova-lite-v1/converse"


def boto3_fails(host: FakeHost, service: str, call):
    import boto3
    from botocore.config import Config

    client = boto3.client(service, region_name="eu-west-3", endpoint_url=host.url,
                          aws_access_key_id=AWS_CREDENTIALS["aws_access_key_id"],
                          aws_secret_access_key=AWS_SECRET, aws_session_token=AWS_TOKEN,
                          config=Config(retries={"total_max_attempts": 1}))
    return raised(lambda: call(client))


def assert_signed_by_botocore(probe: dict, host: FakeHost, path: str, service: str) -> None:
    """The probe's Authorization is the signature botocore makes for that request with those credentials: the
    secret went only into the signature, never as itself."""
    from byok_reporter.aws import aws_key
    from tests.test_aws import botocore_signature

    headers = probe["headers"]
    assert headers["host"] == host.url.removeprefix("http://") and headers["x-amz-security-token"] == AWS_TOKEN
    assert headers["authorization"].endswith("Signature=" + botocore_signature(
        "GET", headers["host"], path, "eu-west-3", service, aws_key(AWS_CREDENTIALS), headers["x-amz-date"]))
    assert f"Credential=AKIAZ7EXAMPLEQ3RT2LK/{headers['x-amz-date'][:8]}/eu-west-3/{service}/" in headers["authorization"]
    assert AWS_SECRET not in json.dumps(probe)


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((403, UNRECOGNIZED), "key_rejected", "sent", ["invalid_key"]),
    ((403, {"message": "The security token included in the request is expired"}), "key_rejected", "sent",
     ["invalid_key"]),
    ((200, {"asyncInvokeSummaries": []}), "key_works", "not_actionable", []),
    ((403, {"Message": "User: arn:aws:iam::123456789012:user/app is not authorized to perform: "
                       "bedrock:ListAsyncInvokes because no identity-based policy allows the "
                       "bedrock:ListAsyncInvokes action"}), "key_works", "not_actionable", []),
    ((403, {"message": "The request signature we calculated does not match the signature you provided."}), "unknown",
     "sent", ["invalid_key"]),
], ids=["unrecognized", "expired", "works", "authenticated-without-this-action", "signature-unread"])
def test_bedrock_unrecognized_client_against_its_async_invoke_list(host, pipe, reporters, device, capsys, caplog,
                                                                   answer, verdict, outcome, reasons):
    """boto3's Converse fails with UnrecognizedClientException (the wording AWS gives when a component sent the
    credentials wrong as well as when they are wrong); the probe lists async invocations, signed with the same
    credentials: a key AWS still refuses is invalid, a key that authenticates is not, even when it may not list
    (AccessDenied names the identity, so it authenticated). A signature mismatch is not read: the classifier
    decides, as before."""
    host.route("POST", NOVA, 403, UNRECOGNIZED, headers={"x-amzn-ErrorType": "UnrecognizedClientException"})
    host.route("GET", "/async-invoke", *answer)
    exc = boto3_fails(host, "bedrock-runtime", lambda c: c.converse(
        modelId="amazon.nova-lite-v1", messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert type(exc).__name__ == "ClientError"
    assert reported(pipe, reporters, device, "bedrock", exc, AWS_CREDENTIALS, host.url) == [outcome]
    assert pipe.events[0]["error"]["status_code"] == 403
    assert pipe.events[0]["error"]["code"] == "UnrecognizedClientException"
    probe = probed_once(pipe, host, "/async-invoke", reasons, verdict)
    assert probe["path"] == "/async-invoke?maxResults=1"
    assert_signed_by_botocore(probe, host, "/async-invoke?maxResults=1", "bedrock")
    assert_no_key(pipe, capsys, caplog)


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((403, {"Message": "Authentication failed: Please make sure your API Key is valid."}), "key_rejected", "sent",
     ["invalid_key"]),
    ((200, {"asyncInvokeSummaries": []}), "key_works", "not_actionable", []),
])
def test_claude_on_bedrock_with_an_api_key_against_the_same_read(host, pipe, reporters, device, answer, verdict,
                                                                 outcome, reasons):
    """A Bedrock API key is one string sent as a Bearer token (AWS's curl example); the combined slug reads
    Bedrock's host and auth. The key that a working curl proves good is not told it is invalid."""
    import httpx

    host.route("POST", "/model/anthropic.claude-sonnet-4-5/invoke", 403,
               {"Message": "Authentication failed: Please make sure your API Key is valid."})
    host.route("GET", "/async-invoke", *answer)
    response = httpx.post(host.url + "/model/anthropic.claude-sonnet-4-5/invoke",
                          headers={"Authorization": f"Bearer {BEDROCK_API_KEY}"},
                          json={"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                                "messages": [{"role": "user", "content": "hi"}]})
    exc = raised(response.raise_for_status)
    assert reported(pipe, reporters, device, "claude_bedrock", exc, BEDROCK_API_KEY, host.url) == [outcome]
    probe = probed_once(pipe, host, "/async-invoke", reasons, verdict)
    assert probe["headers"]["authorization"] == f"Bearer {BEDROCK_API_KEY}" and "x-amz-date" not in probe["headers"]


@pytest.mark.parametrize("answer, verdict, outcome, reasons", [
    ((403, UNRECOGNIZED), "key_rejected", "sent", ["invalid_key"]),
    ((200, {"Voices": [{"Id": "Joanna", "LanguageCode": "en-US"}]}), "key_works", "not_actionable", []),
])
def test_polly_against_its_voice_list(host, pipe, reporters, device, answer, verdict, outcome, reasons):
    """Polly's SynthesizeSpeech fails through boto3; the probe lists voices, signed for polly."""
    host.route("POST", "/v1/speech", 403, UNRECOGNIZED, headers={"x-amzn-ErrorType": "UnrecognizedClientException"})
    host.route("GET", "/v1/voices", *answer)
    exc = boto3_fails(host, "polly", lambda c: c.synthesize_speech(Text="hi", OutputFormat="mp3", VoiceId="Joanna"))
    assert reported(pipe, reporters, device, "amazon_polly", exc, AWS_CREDENTIALS, host.url) == [outcome]
    probe = probed_once(pipe, host, "/v1/voices", reasons, verdict)
    assert_signed_by_botocore(probe, host, "/v1/voices", "polly")


def test_aws_reads_go_only_to_their_service_and_region():
    """A read is planned only at its service's host, in the region that host names; the aws slug's other
    services (Transcribe) and Bedrock's control plane are other hosts; without a base_url no region is guessed."""
    from byok_reporter.probe import ProbeTable, load_table

    table = ProbeTable(load_table())
    plan, why = table.plan("bedrock", "https://bedrock-runtime.ap-south-1.amazonaws.com", None)
    assert why == "" and (plan.host, plan.path, plan.aws) == ("bedrock-runtime.ap-south-1.amazonaws.com",
                                                              "/async-invoke?maxResults=1", ("bedrock", "ap-south-1",
                                                                                            True))
    plan, why = table.plan("polly", "https://polly.eu-central-1.amazonaws.com", None)
    assert why == "" and (plan.path, plan.aws) == ("/v1/voices", ("polly", "eu-central-1", False))
    assert table.plan("amazon_transcribe", "https://transcribe.eu-central-1.amazonaws.com", None) \
        == (None, "other_service")
    assert table.plan("bedrock", "https://bedrock.us-east-1.amazonaws.com", None) == (None, "other_service")
    assert table.plan("aws_bedrock", "https://evil.example.com", None) == (None, "other_service")
    for slug in ("bedrock", "anthropic_bedrock", "polly"):
        assert table.plan(slug, None, None) == (None, "host_unknown")


@pytest.mark.parametrize("provider, key, base_url", [
    ("bedrock", {**AWS_CREDENTIALS, "aws_access_key_id": "ASIAZ7EXAMPLEQ3RT2LK", "aws_session_token": None},
     "https://bedrock-runtime.eu-west-3.amazonaws.com"),
    ("polly", BEDROCK_API_KEY, "https://polly.eu-west-3.amazonaws.com"),
    ("bedrock", {**AWS_CREDENTIALS, "region_name": None}, "http://127.0.0.1:9"),
], ids=["temporary-without-token", "polly-takes-no-api-key", "no-region-to-sign-for"])
def test_aws_credentials_that_cannot_make_the_read_are_not_probed(pipe, reporters, device, provider, key, base_url):
    """Temporary credentials without their session token are refused for that alone, Polly takes no Bedrock API
    key, and a loopback host names no region: no probe (`probe_skipped_key_form`), the event goes as before."""
    reporter = reporters(topic=pipe.name)
    reporter.report(device, provider, {"status_code": 403, "code": "UnrecognizedClientException",
                                       "message": "The security token included in the request is invalid."},
                    key=key, base_url=base_url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"] and "verification" not in pipe.events[0]
    assert reporter.stats()["probe_skipped_key_form"] == 1 and reporter.stats().get("probes", 0) == 0


# --------------------------------------------------------------------------------------------------
# Firecrawl's credit read (added with the thirty-fifth held-out set) against its 402.

@pytest.mark.parametrize("remaining, verdict, outcome, reasons", [
    (0, "no_credit", "sent", ["quota_exhausted"]), (480, "has_credit", "not_actionable", [])])
def test_firecrawl_402_against_its_remaining_credits(host, pipe, reporters, device, remaining, verdict, outcome,
                                                     reasons):
    """Firecrawl's 402 "Insufficient credits to perform this request" is money; its credit read says whether any is
    left: none is one quota push, credits left (the request asked for more than remain) none."""
    import httpx

    body = {"success": False, "error": "Insufficient credits to perform this request. For more credits, you can "
                                       "upgrade your plan at https://firecrawl.dev/pricing."}
    host.route("POST", "/v1/crawl", 402, body)
    host.route("GET", "/v1/team/credit-usage", 200, {"success": True, "data": {"remaining_credits": remaining}})
    exc = raised(lambda: httpx.post(host.url + "/v1/crawl", headers={"Authorization": f"Bearer {FIRECRAWL_KEY}"},
                                    json={"url": "https://example.com", "limit": 500}).raise_for_status())
    assert classify("firecrawl", {"status_code": 402, "body": body}) == "quota_exhausted"
    assert reported(pipe, reporters, device, "firecrawl", exc, FIRECRAWL_KEY, host.url) == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict


# --------------------------------------------------------------------------------------------------
# DeepL's usage read (added after the thirty-seventh held-out set): its own auth scheme, at the host of the failed call.

DEEPL_REFUSED = {"message": "Authorization failed. Please supply a valid auth_key parameter."}


@pytest.mark.parametrize("failed, reading, answer, verdict, outcome, reasons", [
    ((403, DEEPL_REFUSED), "invalid_key", (403, DEEPL_REFUSED), "key_rejected", "sent", ["invalid_key"]),
    ((403, DEEPL_REFUSED), "invalid_key", (200, {"character_count": 1200, "character_limit": 500000}), "key_works",
     "not_actionable", []),
    # a key of the other plan at this host: the read cannot tell, the classifier's reading stands
    ((403, DEEPL_REFUSED), "invalid_key", (403, {"message": "Wrong endpoint. Use https://api.deepl.com"}), "unknown",
     "sent", ["invalid_key"]),
    # DeepL's 456 is money (a trigger since this read); the account's characters all used confirm it
    ((456, {"message": "Quota exceeded"}), "quota_exhausted",
     (200, {"character_count": 500000, "character_limit": 500000}), "no_credit", "sent", ["quota_exhausted"]),
])
def test_deepl_against_its_usage_read(host, pipe, reporters, device, capsys, caplog, failed, reading, answer, verdict,
                                      outcome, reasons):
    """DeepL refuses a key with 403 on every endpoint and counts the account's characters at GET /v2/usage, which
    takes the key only in its own `DeepL-Auth-Key` scheme: the read is made at the failed call's host (Free and Pro
    keys live on different hosts) with that scheme, and the key goes nowhere else."""
    import httpx

    host.route("POST", "/v2/translate", *failed)
    host.route("GET", "/v2/usage", *answer)
    exc = raised(lambda: httpx.post(host.url + "/v2/translate",
                                    headers={"Authorization": f"DeepL-Auth-Key {DEEPL_KEY}"},
                                    data={"text": "Hallo", "target_lang": "EN"}).raise_for_status())
    assert classify("deepl", {"status_code": failed[0], "body": failed[1]}) == reading
    assert reported(pipe, reporters, device, "deepl_free", exc, DEEPL_KEY, host.url + "/v2") == [outcome]
    assert pushed_reasons(pipe) == reasons and pipe.events[0]["verification"]["verdict"] == verdict
    (probe,) = [hit for hit in host.hits_on("/v2/usage") if hit["method"] == "GET"]
    assert probe["headers"]["authorization"] == f"DeepL-Auth-Key {DEEPL_KEY}"
    assert_no_key(pipe, capsys, caplog)


@pytest.mark.parametrize("provider, base_url, plan", [
    ("deepl", None, (None, "host_unknown")),                       # Free and Pro keys live on different hosts
    ("deepl", "https://www2.deepl.com/jsonrpc", (None, "other_service")),   # the web translator's host, not the API
    ("deepl_free", "https://api-free.deepl.com/v2", ("api-free.deepl.com", "/v2/usage")),
    ("deepl_pro", "https://api.deepl.com", ("api.deepl.com", "/v2/usage")),
])
def test_deepls_read_is_planned_at_the_call_host(provider, base_url, plan):
    from byok_reporter.probe import ProbeTable, load_table

    made, why = ProbeTable(load_table()).plan(provider, base_url, None)
    if plan[0] is None:
        assert (made, why) == plan
    else:
        assert why == "" and (made.host, made.path, made.auth) == (*plan, "deepl-auth-key")


# --------------------------------------------------------------------------------------------------
# Limits: time, count, hosts, switches.

def test_a_probe_that_times_out_changes_nothing(host, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY, delay=3.0)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name, probe_timeout=0.3)
    reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    event = pipe.events[0]
    assert event["verification"]["verdict"] == "unknown" and event["verification"]["status"] is None
    assert pushed_reasons(pipe) == [classify("openai", event["error"])] == ["permission_denied"]


def test_the_probe_is_never_on_the_request_path(host, pipe, reporters, device):
    """The provider holds the probe's answer until the test lets it go: a report() that waited for
    the probe could only return after that, and would find it answered."""
    import threading

    gate = threading.Event()
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY, gate=gate)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name, probe_timeout=30)
    assert reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1") is True
    assert host.answered == ["/v1/chat/completions"]                   # the probe is not answered yet
    gate.set()
    assert reporter.flush(20)
    assert host.answered == ["/v1/chat/completions", "/v1/models"]
    assert pipe.deliver(1) == ["sent"] and pushed_reasons(pipe) == ["invalid_key"]


def test_fifty_failures_of_one_key_cost_one_probe(host, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("POST", "/v1/embeddings", 401, OPENAI_BAD_KEY)
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    import openai

    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=host.url + "/v1", max_retries=0)
    chat = raised(lambda: client.chat.completions.create(**CHAT))
    embed = raised(lambda: client.embeddings.create(model="text-embedding-3-small", input="hi"))
    reporter = reporters(topic=pipe.name)
    for i in range(50):
        reporter.report(device, "openai", chat, key=OPENAI_KEY, base_url=host.url + "/v1", feature="chat")
    assert reporter.flush(20)
    for i in range(50):                           # another failure of the same key, in the same window
        reporter.report(device, "openai", embed, key=OPENAI_KEY, base_url=host.url + "/v1")
    assert reporter.flush(20)
    assert len(host.hits_on("/v1/models")) == 1
    assert pipe.deliver(2) == ["sent", "suppressed"]
    # the second event reuses the verdict: both say key_rejected, one push
    assert [e["verification"]["verdict"] for e in pipe.events] == ["key_rejected", "key_rejected"]
    assert pushed_reasons(pipe) == ["invalid_key"]
    stats = reporter.stats()
    assert stats["probes"] == 1 and stats["probe_reused"] == 1


def test_a_redirect_is_not_followed(host, other, pipe, reporters, device):
    other.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", 302, {}, headers={"location": other.url + "/v1/models"})
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"]
    assert pipe.events[0]["verification"] == {**pipe.events[0]["verification"], "status": 302, "verdict": "unknown"}
    assert other.hits == [] and len(host.hits_on("/v1/models")) == 1


def test_the_key_never_goes_to_a_host_the_failed_call_did_not_use(host, other, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    other.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=other.url + "/v1")   # a wrong base_url
    reporter.report(device, "groq", {"status_code": 401, "message": "Invalid API Key"}, key=OPENAI_KEY,
                    base_url="http://192.0.2.1/openai/v1")                         # plain http off loopback
    assert reporter.flush(20)
    assert sorted(pipe.deliver(2)) == ["sent", "sent"]
    assert other.hits == [] and host.hits_on("/v1/models") == []
    assert all("verification" not in e for e in pipe.events)
    stats = reporter.stats()
    assert stats["probe_skipped_other_host"] == 1 and stats["probe_skipped_not_https"] == 1


def test_probing_turned_off_globally_or_per_provider(host, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    host.route("POST", "/openai/v1/chat/completions", 403, b"Forbidden")
    host.route("GET", "/openai/v1/models", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    groq = openai_fails(host, base="/openai/v1")
    off = reporters(topic=pipe.name, probe=False)
    some = reporters(topic=pipe.name, probe_providers={"openai": False})
    off.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
    some.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1", feature="other")
    some.report(device, "groq", groq, key=OPENAI_KEY, base_url=host.url + "/openai/v1")
    assert off.flush(20) and some.flush(20)
    pipe.pull_messages(3)
    assert host.hits_on("/v1/models") == [] and len(host.hits_on("/openai/v1/models")) == 1


def test_errors_that_are_not_about_the_key_are_never_probed(host, pipe, reporters, device):
    host.route("POST", "/v1/chat/completions", 429, {"error": {
        "message": "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000.",
        "type": "tokens", "param": None, "code": "rate_limit_exceeded"}})
    host.route("GET", "/v1/models", 401, OPENAI_BAD_KEY)
    exc = openai_fails(host)
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "openai", exc, key=OPENAI_KEY, base_url=host.url + "/v1")
    reporter.report(device, "openai", {"status_code": 503, "message": "Service Unavailable"}, key=OPENAI_KEY,
                    base_url=host.url + "/v1")
    assert reporter.flush(20)
    assert pipe.deliver(2) == ["not_actionable", "not_actionable"]
    assert host.hits_on("/v1/models") == []


def test_a_provider_without_a_probe_is_reported_as_before(host, pipe, reporters, device):
    reporter = reporters(topic=pipe.name)
    reporter.report(device, "perplexity", {"status_code": 401, "message": "Invalid API key"}, key=OPENAI_KEY,
                    base_url=host.url)
    assert reporter.flush(20)
    assert pipe.deliver(1) == ["sent"] and "verification" not in pipe.events[0]
    assert host.hits == []


def test_a_provider_named_by_an_alias_is_probed_as_its_table(host, pipe, reporters, device):
    """Backends send the slugs they use (`Claude`, `kimi`, `together-ai`): the classifier's tables accept them, and
    the probe resolves them the same way, so an alias is not a reason to alarm without asking."""
    import anthropic

    host.route("POST", "/v1/messages", 401, {"type": "error", "error": {"type": "authentication_error",
                                                                         "message": "invalid x-api-key"}})
    host.route("GET", "/v1/models", 200, {"data": [{"id": "claude-sonnet-4-5", "type": "model"}]})
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=host.url, max_retries=0)
    exc = raised(lambda: client.messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                                messages=[{"role": "user", "content": "hi"}]))
    assert reported(pipe, reporters, device, "Claude", exc, ANTHROPIC_KEY, host.url) == ["not_actionable"]
    assert pipe.events[0]["verification"]["verdict"] == "key_works"
    (probe,) = host.hits_on("/v1/models")
    assert probe["headers"]["x-api-key"] == ANTHROPIC_KEY


@pytest.mark.parametrize("error, names, wanted", [
    ({"message": "litellm.AuthenticationError: DeepseekException - Authentication Fails (governor)"}, (), True),
    ({"message": "invalid x-api-key"}, (), True),
    ({"message": "Your credit balance is too low to access the Anthropic API."}, (), True),
    ({"message": "Request timed out."}, (), False),
    ({"message": "The model is overloaded. Please try again later."}, (), False),
    ({"status_code": 500, "message": "Internal error while checking the api key"}, (), False),
    ({"status_code": 429, "message": "Rate limit reached for requests per minute"}, (), False),
    # a backend's dict whose words are in the provider's body only
    ({"status_code": 400, "body": {"error": {"message": "Budget has been exceeded! Current cost: 0.0011, Max "
                                              "budget: 0.0", "type": "auth_error", "code": 400}}}, (), True),
    ({"status_code": 400, "body": {"error": {"message": "Unsupported parameter: 'max_tokens'",
                                              "type": "invalid_request_error"}}}, (), False),
])
def test_an_error_without_a_status_is_probed_when_its_text_speaks_of_the_key(error, names, wanted):
    """Wrappers that keep only the text (a log line, LiteLLM's string) or only the provider's body still get a probe
    when the words are about the key, the account or money; a timeout, an overload, a 5xx or a per-minute limit
    never does."""
    from byok_reporter.probe import ProbeTable, load_table

    assert ProbeTable(load_table()).calls_for_probe(error, names) is wanted


def test_probe_aliases_are_the_classifier_tables_aliases():
    """One list of slugs per provider: every alias the classifier's table of a probed provider accepts resolves to
    that provider's probe, and the probe table names no alias the tables do not."""
    from byok_reporter import probe as probes
    from functions import providers

    table = probes.ProbeTable(probes.load_table(None))
    registry = providers.registry()
    for slug in table.providers:
        canonical = registry.resolve(slug)
        if canonical != slug:       # an entry that is itself an alias ("google") or that no table claims
            continue
        for alias in registry.tables[canonical].aliases:
            assert table.canonical(alias) == (alias if alias in table.providers else slug), alias
            assert table.canonical(alias.upper().replace("_", "-")) == table.canonical(alias)
    for alias, canonical in table.aliases.items():
        assert registry.resolve(alias) == registry.resolve(canonical), alias
    # a combined slug is read where it is served: Claude on Bedrock at Bedrock's host, with Bedrock's auth
    assert table.canonical("claude_bedrock") == "anthropic_bedrock"
    assert table.plan("claude_bedrock", "https://bedrock-runtime.us-west-2.amazonaws.com", None) \
        == table.plan("bedrock", "https://bedrock-runtime.us-west-2.amazonaws.com", None)
