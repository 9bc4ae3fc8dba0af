"""The backend's publisher: real SDK exceptions in, contract-valid redacted events out, via the real
Pub/Sub emulator; flood control, a Pub/Sub that is down, many threads, hostile inputs.

Every provider exception here is raised by the real SDK from a real HTTP answer of a local fake
provider (the SDK builds it as it would in production). The exception is Deepgram's v3 SDK error,
whose package cannot be installed beside the v7 SDK: its shape is reproduced from v3's source.
"""
from __future__ import annotations

import asyncio
import gc
import hmac
import json
import os
import subprocess
import sys
import threading
import tracemalloc
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")   # LiteLLM: no download at import

from byok_reporter import Reporter, extract_error, fingerprint_key  # noqa: E402
from tests import reporting  # noqa: E402
from functions.classify import classify  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas/byok-error-event.v1.json").read_text())
PROJECT = "demo-byok-test"

# Fake keys of the real shapes (never real keys).
OPENAI_KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 5
ANTHROPIC_KEY = "sk-ant-api03-" + "Zq7_Wx2-Yv5uTs8rQp1oNm4lKj6iHg9fEd3cBa0" * 2 + "AA"
GOOGLE_KEY = "AIzaSyD4Xq7Lm2Np9Rs5Tu8Vw1Yz3Ab6Cd0EfGh"
DEEPGRAM_KEY = "3f9a77c1e0b2d4a6f8091a2b3c4d5e6f7a8b9c0d"
ELEVENLABS_KEY = "sk_" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0" + "0a1b2c3d4e5f6789"
ALL_KEYS = [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY, DEEPGRAM_KEY, ELEVENLABS_KEY]


def validate_event(event: dict) -> None:
    """Valid against the contract's JSON Schema, with an RFC 3339 UTC occurred_at.

    A "recovered" event (opt-in, for the next contract version) is checked against the same schema
    with that kind allowed."""
    from jsonschema import Draft202012Validator

    schema = SCHEMA
    if event.get("kind") == "recovered" and "recovered" not in SCHEMA["properties"]["kind"]["enum"]:
        schema = json.loads(json.dumps(SCHEMA))
        schema["properties"]["kind"]["enum"].append("recovered")
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event)
    assert event["occurred_at"].endswith("Z")
    assert datetime.fromisoformat(event["occurred_at"]).utcoffset().total_seconds() == 0


def assert_no_secret(data: str | bytes) -> None:
    text = data.decode() if isinstance(data, bytes) else data
    for key in ALL_KEYS:
        assert key not in text
        assert key[-20:] not in text


# --------------------------------------------------------------------------------------------------
# A local provider that answers every request with the status and JSON body a test sets.

class FakeProvider:
    def __init__(self) -> None:
        self.status, self.body = 401, {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                data = json.dumps(outer.body).encode()
                self.send_response(outer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status: int, body) -> "FakeProvider":
        self.status, self.body = status, body
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    yield fake
    fake.stop()


def raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("the SDK call did not fail")


OPENAI_QUOTA = {"error": {"message": "You exceeded your current quota, please check your plan and billing "
                                     "details.", "type": "insufficient_quota", "param": None,
                          "code": "insufficient_quota"}}
OPENAI_BAD_KEY = {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}. You can find your API key "
                                       "at https://platform.openai.com/account/api-keys.",
                            "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}
GOOGLE_BAD_KEY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                            "status": "INVALID_ARGUMENT", "details": [
                                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                 "domain": "googleapis.com",
                                 "metadata": {"service": "generativelanguage.googleapis.com"}}]}}


def openai_error(provider, status=429, body=OPENAI_QUOTA):
    import openai

    provider.answer(status, body)
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=provider.url + "/v1", max_retries=0)
    return raised(lambda: client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]))


# --------------------------------------------------------------------------------------------------
# Reading real SDK exceptions.

def test_openai_quota(provider):
    import openai

    exc = openai_error(provider)
    assert isinstance(exc, openai.RateLimitError)
    error = extract_error(exc)
    assert error["status_code"] == 429 and error["code"] == "insufficient_quota"
    assert error["type"] == "RateLimitError"
    assert error["body"]["type"] == "insufficient_quota"
    assert "exceeded your current quota" in error["message"]


def test_openai_invalid_key_message_is_redacted(provider):
    exc = openai_error(provider, 401, OPENAI_BAD_KEY)
    assert OPENAI_KEY in str(exc)                       # the SDK's own text carries the key...
    error = extract_error(exc)
    assert_no_secret(json.dumps(error))                 # ...the event does not
    assert error["status_code"] == 401 and error["code"] == "invalid_api_key"
    assert "Incorrect API key provided: [REDACTED]" in error["message"]


def test_anthropic_credit_balance(provider):
    import anthropic

    provider.answer(400, {"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
                   "Billing to upgrade or purchase credits."}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=provider.url, max_retries=0)
    exc = raised(lambda: client.messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                                messages=[{"role": "user", "content": "hi"}]))
    assert isinstance(exc, anthropic.BadRequestError)
    error = extract_error(exc)
    assert error["status_code"] == 400 and error["type"] == "BadRequestError"
    assert error["code"] == "invalid_request_error"
    assert "credit balance is too low" in error["body"]["error"]["message"]


def test_anthropic_authentication(provider):
    import anthropic

    provider.answer(401, {"type": "error", "error": {"type": "authentication_error",
                                                     "message": "invalid x-api-key"}})
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=provider.url, max_retries=0)
    exc = raised(lambda: client.messages.create(model="claude-sonnet-4-5", max_tokens=8,
                                                messages=[{"role": "user", "content": "hi"}]))
    assert isinstance(exc, anthropic.AuthenticationError)
    error = extract_error(exc)
    assert (error["status_code"], error["code"]) == (401, "authentication_error")


def test_google_genai_invalid_key(provider):
    from google import genai
    from google.genai import errors, types

    provider.answer(400, GOOGLE_BAD_KEY)
    client = genai.Client(api_key=GOOGLE_KEY, http_options=types.HttpOptions(base_url=provider.url))
    exc = raised(lambda: client.models.generate_content(model="gemini-2.0-flash", contents="hi"))
    assert isinstance(exc, errors.ClientError)
    error = extract_error(exc)
    assert error["status_code"] == 400 and error["code"] == "API_KEY_INVALID"
    assert error["body"]["error"]["status"] == "INVALID_ARGUMENT"
    assert_no_secret(json.dumps(error))


def test_google_api_core_permission_denied(provider):
    import requests
    from google.api_core import exceptions

    provider.answer(403, {"error": {"code": 403, "message": "Generative Language API has not been used in "
                                    "project 123 before or it is disabled.", "status": "PERMISSION_DENIED",
                                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                 "reason": "SERVICE_DISABLED"}]}})
    response = requests.get(f"{provider.url}/v1beta/models?key={GOOGLE_KEY}", timeout=10)
    exc = exceptions.from_http_response(response)       # how google-cloud clients build it
    assert isinstance(exc, exceptions.Forbidden)
    error = extract_error(exc)
    assert error["status_code"] == 403 and error["code"] == "SERVICE_DISABLED"
    assert error["body"]["error"]["code"] == 403
    assert_no_secret(json.dumps(error))                 # the URL in the message had ?key=


def test_google_api_core_from_grpc():
    import grpc
    from google.api_core import exceptions

    exc = exceptions.from_grpc_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "Quota exceeded for quota metric")
    error = extract_error(exc)
    assert (error["status_code"], error["code"], error["type"]) == (429, "RESOURCE_EXHAUSTED",
                                                                    "ResourceExhausted")
    assert error["body"]["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_httpx_status_error(provider):
    import httpx

    provider.answer(401, GOOGLE_BAD_KEY)
    exc = raised(lambda: httpx.get(f"{provider.url}/v1/x?key={GOOGLE_KEY}").raise_for_status())
    assert isinstance(exc, httpx.HTTPStatusError)
    error = extract_error(exc)
    assert error["status_code"] == 401 and error["code"] == "API_KEY_INVALID"
    assert error["type"] == "HTTPStatusError"
    assert_no_secret(json.dumps(error))


def test_requests_http_error_openrouter_credits(provider):
    import requests

    provider.answer(402, {"error": {"code": 402, "message": "Insufficient credits. Add more using "
                                    "https://openrouter.ai/credits"}})
    exc = raised(lambda: requests.post(f"{provider.url}/api/v1/chat/completions", timeout=10,
                                       headers={"Authorization": f"Bearer {OPENAI_KEY}"}).raise_for_status())
    assert isinstance(exc, requests.HTTPError)
    error = extract_error(exc)
    assert error["status_code"] == 402 and "code" not in error
    assert error["body"]["error"]["message"].startswith("Insufficient credits")


def test_deepgram_v7_api_error(provider):
    from deepgram import DeepgramClient
    from deepgram.core.api_error import ApiError
    from deepgram.environment import DeepgramClientEnvironment

    provider.answer(401, {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.",
                          "request_id": "6e2a1f0c-2b1d-4c55-9e0b-0c3b1e2a7f11"})
    ws = provider.url.replace("http", "ws")
    env = DeepgramClientEnvironment(base=provider.url, production=ws, agent=ws, agent_rest=provider.url)
    client = DeepgramClient(api_key=DEEPGRAM_KEY, environment=env)
    exc = raised(lambda: client.manage.v1.projects.list())
    assert isinstance(exc, ApiError)
    error = extract_error(exc)
    assert (error["status_code"], error["code"]) == (401, "INVALID_AUTH")
    assert error["body"]["err_msg"] == "Invalid credentials."


def test_deepgram_v3_shaped_error():
    class DeepgramApiError(Exception):                  # deepgram-sdk 3.x, deepgram/errors.py
        def __init__(self, message: str, status: str, original_error=None):
            super().__init__(message)
            self.name = "DeepgramApiError"
            self.status = status
            self.message = message
            self.original_error = original_error

    exc = DeepgramApiError('{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}', "401")
    error = extract_error(exc)
    assert (error["status_code"], error["code"]) == (401, "INVALID_AUTH")


def test_elevenlabs_api_error(provider):
    from elevenlabs import ElevenLabs
    from elevenlabs.core.api_error import ApiError

    provider.answer(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
    exc = raised(lambda: ElevenLabs(api_key=ELEVENLABS_KEY, base_url=provider.url).user.get())
    assert isinstance(exc, ApiError)
    error = extract_error(exc)
    assert (error["status_code"], error["code"]) == (401, "invalid_api_key")
    assert_no_secret(json.dumps(error))


def test_litellm_rate_limit_error(provider):
    import litellm

    provider.answer(429, OPENAI_QUOTA)
    exc = raised(lambda: litellm.completion(model="openai/gpt-4o", api_base=provider.url + "/v1",
                                            api_key=OPENAI_KEY, messages=[{"role": "user", "content": "hi"}],
                                            num_retries=0, max_retries=0))
    assert isinstance(exc, litellm.RateLimitError)
    error = extract_error(exc)
    assert (error["status_code"], error["code"]) == (429, "insufficient_quota")
    assert error["message"].startswith("litellm.RateLimitError")


def test_websocket_close_frame_keeps_its_code_and_reason():
    """A realtime API closing with 1008 and a reason (Gemini Live on a bad key): websockets raises
    ConnectionClosedError; the event carries the close code as status_code and the reason."""
    import asyncio as aio
    import threading as th

    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    from functions.classify import classify

    reason = "API key not valid. Please pass a valid API key."
    ready, stop, port = th.Event(), th.Event(), []

    async def handler(ws):
        await ws.close(1008, reason)

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port.append(server.sockets[0].getsockname()[1])
            ready.set()
            while not stop.is_set():
                await aio.sleep(0.05)

    thread = th.Thread(target=lambda: aio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        with connect(f"ws://127.0.0.1:{port[0]}/ws/live?key={GOOGLE_KEY}") as ws:
            exc = raised(ws.recv)
    finally:
        stop.set()
        thread.join(10)
    assert isinstance(exc, ConnectionClosedError)
    error = extract_error(exc)
    assert error["status_code"] == 1008 and reason in error["message"]
    assert classify("gemini", error) == "invalid_key"
    assert extract_error({"status_code": 1008, "message": reason})["status_code"] == 1008
    assert "status_code" not in extract_error({"status_code": 999_999})


def test_wrappers_are_unwrapped(provider):
    import tenacity

    original = openai_error(provider, 401, OPENAI_BAD_KEY)
    try:
        raise RuntimeError("LLM call failed") from original
    except RuntimeError as exc:
        explicit = exc
    try:
        try:
            raise original
        except Exception:
            raise ValueError("while generating a reply")
    except ValueError as exc:
        implicit = exc

    def always_fails():
        raise original

    retry_error = raised(lambda: tenacity.Retrying(stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_none())(
        always_fails))
    assert isinstance(retry_error, tenacity.RetryError)
    for wrapper in (explicit, implicit, retry_error):
        error = extract_error(wrapper)
        assert (error["status_code"], error["code"], error["type"]) == (401, "invalid_api_key",
                                                                        "AuthenticationError")
        assert_no_secret(json.dumps(error))


def test_error_dict_is_kept_and_redacted():
    error = extract_error({"status_code": 401, "type": "AuthenticationError", "code": "invalid_api_key",
                           "message": f"bad key {OPENAI_KEY}", "body": {"api_key": OPENAI_KEY, "n": 1}})
    assert error == {"status_code": 401, "type": "AuthenticationError", "code": "invalid_api_key",
                     "message": "bad key [REDACTED]", "body": {"api_key": "[REDACTED]", "n": 1}}


def test_a_numeric_code_reaches_the_event_as_text():
    """The contract's `code` is a string; a provider's numeric code an app kept as a number (iFlytek's 11200,
    Alibaba Cloud's 40000010) reaches the notifier as its digits, and the verdict is the same as classified directly."""
    error = {"code": 40000010, "message": "Gateway:FREE TRIAL EXPIRED:The free trial has expired!"}
    assert extract_error(error)["code"] == "40000010"
    assert classify("aliyun_nls", extract_error(error)) == classify("aliyun_nls", error) == "quota_exhausted"
    assert "code" not in extract_error({"code": True, "message": "x"})


# --------------------------------------------------------------------------------------------------
# Through the Pub/Sub emulator.

class Topic(reporting.Topic):
    """Reads back exactly what was published, checked against the contract and for secrets."""

    def pull(self, expected: int, settle: float = 1.0, deadline: float = 30.0) -> list[tuple[dict, dict]]:
        out: list[tuple[dict, dict]] = []
        for m in self.pull_messages(expected, settle, deadline):
            assert_no_secret(m.data)
            event = json.loads(m.data)
            validate_event(event)
            out.append((event, dict(m.attributes)))
        return out


@pytest.fixture
def topic(pubsub_emulator, monkeypatch):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.address)
    t = Topic()
    yield t
    t.close()


@pytest.fixture
def reporters():
    made: list[Reporter] = []

    def make(topic_name: str, **options) -> Reporter:
        options.setdefault("fingerprint_pepper", "test-pepper")
        reporter = Reporter(PROJECT, topic_name, **options)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=2)


def test_events_are_contract_valid_redacted_and_deduplicated(topic, reporters, provider):
    from google import genai
    from google.genai import types

    reporter = reporters(topic.name)
    openai_exc = openai_error(provider, 401, OPENAI_BAD_KEY)
    provider.answer(400, GOOGLE_BAD_KEY)
    client = genai.Client(api_key=GOOGLE_KEY, http_options=types.HttpOptions(base_url=provider.url))
    gemini_exc = raised(lambda: client.models.generate_content(model="gemini-2.0-flash", contents="hi"))
    for _ in range(5):                                  # a broken key fails on every request
        reporter.report("user-a", "openai", openai_exc, key=OPENAI_KEY, feature="chat", model="gpt-4o",
                        operation="chat.completions")
        reporter.report("user-a", "gemini", gemini_exc, key=GOOGLE_KEY, feature="summary")
        reporter.report("user-b", "openai", openai_exc, key=OPENAI_KEY)
    assert reporter.flush(20)
    messages = topic.pull(expected=3)
    assert len(messages) == 3
    by_target = {(e["uid"], e["provider"]): (e, attrs) for e, attrs in messages}
    event, attrs = by_target[("user-a", "openai")]
    assert event["version"] == 1 and event["kind"] == "error"
    assert event["key_fingerprint"] == hmac.new(b"test-pepper", OPENAI_KEY.encode(), "sha256").hexdigest()[:32]
    assert (event["feature"], event["model"], event["operation"]) == ("chat", "gpt-4o", "chat.completions")
    assert event["error"]["status_code"] == 401 and event["error"]["code"] == "invalid_api_key"
    assert attrs == {"version": "1", "kind": "error", "provider": "openai", "status_code": "401",
                     "code": "invalid_api_key"}
    gemini, attrs = by_target[("user-a", "gemini")]
    assert gemini["error"]["code"] == "API_KEY_INVALID" and attrs["status_code"] == "400"
    assert gemini["key_fingerprint"] == fingerprint_key(GOOGLE_KEY, "test-pepper")
    stats = reporter.stats()
    assert (stats["queued"], stats["published"], stats["suppressed"], stats["dropped"]) == (3, 3, 12, 0)


def test_different_failures_are_not_merged(topic, reporters):
    reporter = reporters(topic.name)
    base = {"status_code": 429, "code": "rate_limit_exceeded", "message": "slow down"}
    reporter.report("user-a", "openai", base)
    reporter.report("user-a", "openai", {**base, "code": "insufficient_quota"})     # another code
    reporter.report("user-a", "openai", {**base, "status_code": 401})               # another status
    reporter.report("user-a", "openai", base, key="sk-another-key-1234567890abc")   # another key
    reporter.report("user-a", "anthropic", base)                                    # another provider
    reporter.report("user-c", "openai", base)                                       # another user
    reporter.report("user-a", "openai", base)                                       # a repeat
    assert reporter.flush(20)
    assert len(topic.pull(expected=6)) == 6
    assert reporter.stats()["suppressed"] == 1


def test_a_repeat_after_the_window_publishes_again(topic, reporters):
    import time

    reporter = reporters(topic.name, window_seconds=0.3)
    error = {"status_code": 401, "code": "invalid_api_key"}
    assert reporter.report("user-a", "openai", error) is True
    assert reporter.report("user-a", "openai", error) is False
    time.sleep(0.5)
    assert reporter.report("user-a", "openai", error) is True
    assert reporter.flush(20)
    assert len(topic.pull(expected=2)) == 2


def test_invalid_reports_are_counted_dropped_and_logged_once(topic, reporters, caplog):
    reporter = reporters(topic.name)
    bad = [("", "openai"), ("a/b", "openai"), ("../x", "openai"), (".", "openai"), ("..", "openai"),
           ("__x__", "openai"), ("x" * 129, "openai"), ("a\nb", "openai"), (None, "openai"), (42, "openai"),
           ("user-a", ""), ("user-a", "open ai"), ("user-a", "x" * 41), ("user-a", None), ("user-a", "ö")]
    with caplog.at_level("WARNING", logger="byok_reporter"):
        for uid, provider in bad * 3:
            assert reporter.report(uid, provider, {"status_code": 401}) is False
    assert reporter.stats()["invalid"] == len(bad) * 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "byok_reporter"]
    assert len(warnings) == 2                           # one for uids, one for providers
    assert reporter.report("user-a", " OpenAI ", {"status_code": 401}) is True   # normalised slug
    assert reporter.flush(20)
    (event, _), = topic.pull(expected=1)
    assert event["provider"] == "openai"


class Hostile(Exception):
    """An error object whose every attribute fights back."""

    @property
    def status_code(self):
        raise RuntimeError("no status for you")

    @property
    def body(self):
        raise RuntimeError("no body either")

    def __str__(self):
        raise RuntimeError("and no text")


def test_hostile_and_huge_errors_never_raise_and_stay_in_bounds(topic, reporters):
    reporter = reporters(topic.name)
    recursive: dict = {"error": {"code": "loop"}}
    recursive["error"]["self"] = recursive
    cases = [
        Hostile(),
        {"status_code": "401", "type": 5, "code": ["x"], "message": b"bytes", "body": {1: {2, 3}}},
        {"status_code": 429, "message": "m" * 2_000_000 + OPENAI_KEY, "body": {"k": ["v" * 1000] * 1000}},
        {"status_code": True, "body": recursive},
        {"body": {"when": datetime.now(), "obj": object(), "nan": float("nan"), "big": 10 ** 400}},
        "just a string with " + GOOGLE_KEY,
        None,
        12345,
        {"status_code": 1000, "code": "c" * 5000},
    ]
    for i, error in enumerate(cases):
        assert isinstance(reporter.report(f"user-{i}", "openai", error, model="m" * 1000), bool)
    assert reporter.flush(20)
    messages = topic.pull(expected=len(cases))
    assert len(messages) == len(cases) and reporter.stats()["internal_errors"] == 0
    hostile = next(e for e, _ in messages if e["uid"] == "user-0")
    assert hostile["error"] == {"type": "Hostile"}
    for event, _ in messages:
        assert len(json.dumps(event)) < 64 * 1024
        assert len(event.get("model", "")) <= 256


def test_many_threads_report_at_once(topic, reporters):
    reporter = reporters(topic.name)
    threads_n, per_thread, users = 16, 400, 40
    start = threading.Barrier(threads_n)
    results: list[int] = []

    def work(t: int) -> None:
        start.wait()
        queued = 0
        for i in range(per_thread):
            user = (t * per_thread + i) % users
            queued += reporter.report(f"user-{user}", "openai", {"status_code": 401, "code": "invalid_api_key"})
        results.append(queued)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == users
    assert reporter.flush(30)
    messages = topic.pull(expected=users)
    assert sorted(e["uid"] for e, _ in messages) == sorted(f"user-{u}" for u in range(users))
    stats = reporter.stats()
    assert (stats["published"], stats["suppressed"]) == (users, threads_n * per_thread - users)
    assert_accounted(reporter)


def assert_accounted(reporter: Reporter) -> None:
    """Every queued event is published, failed, dropped, still buffered or in flight."""
    s = reporter.stats()
    assert s["queued"] == (s["published"] + s["failed"] + s.get("unencodable", 0) + s["dropped"]
                           + s["buffered"] + s["in_flight"]), s


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]                       # nothing listens there once closed


def test_pubsub_unreachable_calls_return_memory_stays_flat(monkeypatch, reporters):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
    reporter = reporters("byok-errors", buffer_size=100, max_keys=500, max_in_flight=5,
                         publish_timeout=1.0)
    error = {"status_code": 401, "code": "invalid_api_key", "message": "x" * 200}

    def burst(start: int, n: int) -> None:
        for i in range(start, start + n):
            assert isinstance(reporter.report(f"user-{i}", "openai", error), bool)

    burst(0, 5000)                                      # warm up: buffer and dedup map fill
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    burst(5000, 20000)
    gc.collect()
    growth = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    stats = reporter.stats()
    assert stats["buffered"] <= 100 and stats["remembered"] <= 500 and stats["in_flight"] <= 5
    assert stats["queued"] == 25000 and stats["dropped"] > 0
    assert_accounted(reporter)
    assert growth < 512 * 1024, f"memory grew by {growth} bytes over 20000 reports"
    assert reporter.close(timeout=1.0) is False         # gives up in time, never raises
    assert reporter.stats()["published"] == 0 and reporter.stats()["buffered"] == 0
    assert_accounted(reporter)


def test_a_failed_publish_lets_the_next_repeat_try_again(monkeypatch, reporters):
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
    reporter = reporters("byok-errors", publish_timeout=0.5)
    error = {"status_code": 401, "code": "invalid_api_key"}
    assert reporter.report("user-a", "openai", error) is True
    assert reporter.flush(20)
    assert reporter.stats()["failed"] == 1
    assert reporter.report("user-a", "openai", error) is True


def test_key_fingerprints(topic, reporters, caplog):
    with_pepper = reporters(topic.name, fingerprint_pepper="p1")
    without = reporters(topic.name, fingerprint_pepper="")
    with caplog.at_level("WARNING", logger="byok_reporter"):
        without.report("user-a", "openai", {"status_code": 401}, key=OPENAI_KEY)
        without.report("user-b", "openai", {"status_code": 401}, key=OPENAI_KEY)
    with_pepper.report("user-c", "openai", {"status_code": 401}, key=OPENAI_KEY)
    with_pepper.report("user-d", "openai", {"status_code": 401}, key_fingerprint="fp:abc123")
    with_pepper.report("user-e", "openai", {"status_code": 401}, key_fingerprint="not a fingerprint!")
    assert with_pepper.flush(20) and without.flush(20)
    events = {e["uid"]: e for e, _ in topic.pull(expected=5)}
    assert "key_fingerprint" not in events["user-a"] and "key_fingerprint" not in events["user-b"]
    assert events["user-c"]["key_fingerprint"] == fingerprint_key(OPENAI_KEY, "p1")
    assert events["user-d"]["key_fingerprint"] == "fp:abc123"
    assert "key_fingerprint" not in events["user-e"]
    assert sum("fingerprint_pepper" in r.getMessage() for r in caplog.records) == 1
    assert with_pepper.stats()["invalid_fingerprint"] == 1
    # what the backend stores as the user's current key (README: superseded keys) is what the events carry
    assert with_pepper.key_fingerprint(OPENAI_KEY) == events["user-c"]["key_fingerprint"]
    assert with_pepper.key_fingerprint(OPENAI_KEY + "x") != events["user-c"]["key_fingerprint"]
    assert without.key_fingerprint(OPENAI_KEY) is None and with_pepper.key_fingerprint("") is None


def test_a_closed_reporter_refuses_quietly(topic, reporters):
    reporter = reporters(topic.name)
    reporter.report("user-a", "openai", {"status_code": 401})
    assert reporter.close(timeout=10) is True
    assert reporter.report("user-b", "openai", {"status_code": 401}) is False
    assert reporter.stats()["closed"] == 1
    assert len(topic.pull(expected=1)) == 1


def test_langchain_callback_handler(topic, reporters, provider):
    import openai
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    class OpenAIChat(BaseChatModel):
        base_url: str

        @property
        def _llm_type(self) -> str:
            return "test-openai"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            client = openai.OpenAI(api_key=OPENAI_KEY, base_url=self.base_url, max_retries=0)
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": str(m.content)} for m in messages])
            return ChatResult(generations=[ChatGeneration(message=AIMessage(reply.choices[0].message.content))])

    reporter = reporters(topic.name)
    provider.answer(429, OPENAI_QUOTA)
    handler = reporter.langchain_handler("user-a", "openai", feature="assistant")
    with pytest.raises(openai.RateLimitError):
        OpenAIChat(base_url=provider.url + "/v1").invoke("hi", config={"callbacks": [handler]})
    assert reporter.flush(20)
    (event, _), = topic.pull(expected=1)
    assert (event["uid"], event["feature"], event["error"]["code"]) == ("user-a", "assistant",
                                                                        "insufficient_quota")


def test_asyncio_path(topic, reporters):
    reporter = reporters(topic.name)

    async def handler() -> bool:
        reporter.report("user-a", "openai", {"status_code": 401})     # plain call: no await needed
        flushed = await reporter.aflush(20)
        await reporter.aclose(5)
        return flushed

    assert asyncio.run(handler()) is True
    assert len(topic.pull(expected=1)) == 1


def test_recovered_events_follow_a_reported_failure_and_can_be_turned_off(topic, reporters):
    off = reporters(topic.name, recovered_events=False)
    off.report("user-a", "openai", {"status_code": 401})
    assert off.report_recovered("user-a", "openai") is False
    assert off.stats()["recovered_disabled"] == 1
    on = reporters(topic.name, recovered_events=True)
    assert on.report_recovered("user-a", "openai") is False          # no failure seen: nothing to say
    on.report("user-a", "openai", {"status_code": 401}, key=OPENAI_KEY)
    assert on.report_recovered("user-a", "openai", key=OPENAI_KEY) is True
    assert on.report_recovered("user-a", "openai", key=OPENAI_KEY) is False   # said once
    assert on.report_recovered("user-b", "anthropic", force=True) is True     # the backend knows
    assert on.report_recovered("user-b", "anthropic", force=True) is False    # rate-limited
    assert off.flush(20) and on.flush(20)
    events = topic.pull(expected=4)
    recovered = sorted((e["uid"], e["provider"]) for e, a in events
                       if e["kind"] == "recovered" and a["kind"] == "recovered" and e["error"] == {})
    assert recovered == [("user-a", "openai"), ("user-b", "anthropic")]
    assert next(e for e, _ in events if e["kind"] == "recovered" and e["uid"] == "user-a")[
        "key_fingerprint"] == fingerprint_key(OPENAI_KEY, "test-pepper")


def test_importable_without_the_functions_dependencies():
    """Only google-cloud-pubsub (imported when the first event is published) and the stdlib."""
    code = ("import sys; import byok_reporter; assert 'functions' not in sys.modules; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('redis', 'firebase_admin', 'flask', "
            "'functions_framework', 'openai', 'anthropic', 'langchain_core', 'grpc') "
            "or m.startswith(('google.cloud.firestore', 'google.cloud.pubsub'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "reporter",
                         check=True)
    assert out.stdout.strip() == "[]"
