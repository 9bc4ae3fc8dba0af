"""The app backend's side: report a failed call made with a user's own key, in microseconds.

`Reporter.report()` sits on the request path of a busy service, right where an LLM or speech call
with the user's key failed. So it never raises, never blocks and never does I/O: it validates the
ids, reads the status and the provider's error code off the exception (duck typing, no SDK
imports), drops a repeat of the same failure seen within the window (a broken key fails on every
request; one message per window is enough), and appends to a bounded buffer. A background thread
turns each entry into a contract v1 event (schemas/byok-error-event.v1.json): message and body
redacted, sizes capped, the key replaced by an HMAC fingerprint; and publishes it with
google-cloud-pubsub, keeping a bounded number of publishes in flight. When Pub/Sub is slow or
unreachable the buffer fills and the oldest entries are dropped and counted: memory stays flat.

Needs only google-cloud-pubsub and the standard library (plus functions.redact and functions.event,
pure stdlib, whose validation rules it shares with the notifier), so a backend can vendor these three
files. Details and measured costs: docs/publisher.md.
"""
from __future__ import annotations

import asyncio
import atexit
import collections
import hmac
import json
import logging
import os
import re
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import Any, Mapping

from functions.event import FINGERPRINT_RE, PROVIDER_RE, valid_uid  # the notifier's own rules (stdlib only)
from functions.redact import redact, redact_text

__all__ = ["Reporter", "extract_error", "fingerprint_key"]

log = logging.getLogger("byok.publisher")


MAX_MESSAGE_CHARS = 4096        # error.message after redaction
MAX_TEXT_CHARS = 1024           # error.type, error.code (the contract's limit)
MAX_FIELD_CHARS = 256           # feature, model, operation (the contract's limit)
MAX_BODY_BYTES = 16384          # error.body as JSON; larger bodies become their truncated JSON text
_MAX_CHAIN = 8                  # wrapped exceptions followed
_MAX_NODES = 2000               # JSON nodes copied from a body
_SCAN_CHARS = 4096              # message text searched for a provider error code

# A provider error code written into an SDK's message text: 'code': 'insufficient_quota'.
_CODE_IN_TEXT = re.compile(r"""["'](?:code|err_code)["']\s*:\s*["']([A-Za-z][A-Za-z0-9_.\-]{1,63})["']""")
# What may be left at the end of a cut text: part of a token, maybe part of a key.
_TRAILING_TOKEN = re.compile(r"[^\s\"',;:(){}\[\]<>]+$")


def fingerprint_key(key: str, pepper: str | bytes, length: int = 32) -> str:
    """HMAC-SHA256 of the key with a secret pepper, as `length` hex characters: never the key."""
    if isinstance(pepper, str):
        pepper = pepper.encode()
    return hmac.digest(pepper, key.encode("utf-8", "surrogatepass"), "sha256").hex()[:length]


# --------------------------------------------------------------------------------------------------
# Reading an error: status, code, type, message, body, by duck typing over every SDK we know.

def _attr(obj: Any, name: str) -> Any:
    """getattr that never raises: SDK properties can (a response not read, a closed stream)."""
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001
        return None


def _as_status(value: Any) -> int | None:
    if type(value) is int:
        return value if 100 <= value <= 599 else None
    if isinstance(value, str) and len(value) == 3 and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):   # IntEnum (http.HTTPStatus)
        return int(value) if 100 <= value <= 599 else None
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: __cause__, __context__ and the attributes SDKs use."""
    out: list[BaseException] = []
    current: Any = exc
    while isinstance(current, BaseException) and len(out) < _MAX_CHAIN \
            and not any(current is seen for seen in out):
        out.append(current)
        nxt = current.__cause__ or _attr(current, "original_error") \
            or _attr(current, "original_exception") or current.__context__
        if nxt is None:                                   # tenacity.RetryError keeps the last try
            attempt = _attr(current, "last_attempt")
            exception = _attr(attempt, "exception")
            if callable(exception):
                try:
                    nxt = exception(timeout=0)
                except Exception:  # noqa: BLE001
                    nxt = None
        current = nxt
    return out


def _response_of(exc: Any) -> Any:
    response = _attr(exc, "response")
    if response is None or isinstance(response, (str, bytes, dict, list)):
        return None
    return response


def _status_of(exc: Any) -> int | None:
    for name in ("status_code", "http_status", "code", "status"):
        status = _as_status(_attr(exc, name))
        if status is not None:
            return status
    response = _response_of(exc)
    if response is not None:
        for name in ("status_code", "status"):
            status = _as_status(_attr(response, name))
            if status is not None:
                return status
    return None


def _raw_body(exc: Any) -> Any:
    """The provider's error body as the SDK kept it, without parsing anything."""
    body = _attr(exc, "body")
    if body is not None and not callable(body):
        return body
    details = _attr(exc, "details")            # google-genai APIError: the response JSON
    if isinstance(details, (dict, list)) and not hasattr(exc, "grpc_status_code"):
        return details
    return None


def _response_body(exc: Any) -> Any:
    """The body of an HTTP response an exception carries (httpx, requests, google.api_core)."""
    response = _response_of(exc)
    if response is None:
        return None
    try:
        text = response.text                             # httpx, requests, google-auth
        if callable(text):                               # aiohttp: a coroutine function; skip
            return None
    except Exception:  # noqa: BLE001 - a streamed, unread response
        return None
    if not isinstance(text, str) or not text:
        return None
    text = text[:65536]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _google_body(exc: Any) -> Any:
    """google.api_core exceptions: the parts of the Google error payload they keep."""
    if not hasattr(exc, "grpc_status_code"):
        return None
    error: dict[str, Any] = {}
    status_code = _as_status(_attr(exc, "code"))
    if status_code is not None:
        error["code"] = status_code
    if isinstance(_attr(exc, "message"), str):
        error["message"] = exc.message
    status = _attr(exc, "grpc_status_code")
    if status is not None:
        error["status"] = getattr(status, "name", str(status))
    for name in ("errors", "details"):
        value = _attr(exc, name)
        if value:
            error[name] = [v if isinstance(v, (dict, str, int, float, bool, type(None))) else str(v)
                           for v in list(value)[:20]]
    return {"error": error} if error else None


def _get(mapping: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(name)
    return mapping


def _code_in_body(body: Any) -> str | None:
    """The provider's error code in a body: Google ErrorInfo reason, error.code, err_code..."""
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    inner = error if isinstance(error, Mapping) else body
    details = inner.get("details")
    if isinstance(details, list):
        for detail in details[:10]:
            reason = _get(detail, "reason")
            if isinstance(reason, str) and reason:
                return reason
    for candidate in (inner.get("code"), body.get("code"), body.get("err_code"),
                      _get(body, "detail", "status"), _get(body, "detail", "code"),
                      inner.get("type") if inner is not body else None, inner.get("status"),
                      body.get("type") if body.get("type") != "error" else None):
        if isinstance(candidate, str) and candidate and not candidate.isdigit():
            return candidate
    return None


def _code_of(exc: Any, body: Any) -> str | None:
    code = _attr(exc, "code")
    if isinstance(code, str) and code and not code.isdigit():
        return code                                      # openai: error.code
    if hasattr(exc, "grpc_status_code"):                 # google.api_core: ErrorInfo reason, status
        reason = _attr(exc, "reason")
        if isinstance(reason, str) and reason:
            return reason
        status = _attr(exc, "grpc_status_code")
        if status is not None and not body:
            return _attr(status, "name") or None
    code = _code_in_body(body)
    if code:
        return code
    for name in ("status", "err_code", "error_code"):   # google-genai: "INVALID_ARGUMENT"
        value = _attr(exc, name)
        if isinstance(value, str) and value and not value.isdigit():
            return value
    message = _attr(exc, "message")              # LiteLLM and wrappers: code in the text
    if isinstance(message, str) and "code" in message:
        m = _CODE_IN_TEXT.search(message, 0, _SCAN_CHARS)
        if m:
            return m.group(1)
    return None


def _provider_error(exc: BaseException) -> BaseException:
    """The exception in the chain that came from the provider: the first with a status or body."""
    chain = _chain(exc)
    for candidate in chain:
        if _status_of(candidate) is not None or _raw_body(candidate) is not None:
            return candidate
    return chain[0]


def _quick(error: Any) -> tuple[Any, int | None, str | None]:
    """(provider exception or error dict, status, code): the cheap part, on the caller's thread."""
    if isinstance(error, BaseException):
        status = _as_status(_attr(error, "status_code"))
        exc = error if status is not None else _provider_error(error)   # most SDKs: no chain to walk
        if status is None:
            status = _status_of(exc)
        code = _attr(exc, "code")
        if type(code) is str and code and not code.isdigit():           # openai & co: no body needed
            return exc, status, code
        body = _raw_body(exc)
        if body is None and _response_of(exc) is not None:
            body = _response_body(exc)
        return exc, status, _code_of(exc, body)
    if isinstance(error, Mapping):
        status = _as_status(error.get("status_code"))
        code = error.get("code")
        if not isinstance(code, str):
            code = _code_in_body(error.get("body"))
        return error, status, code
    return {"message": error if isinstance(error, str) else repr(error)}, None, None


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters without leaving part of a token (maybe of a key) at the end."""
    if len(text) <= limit:
        return text
    return _TRAILING_TOKEN.sub("", text[:limit - 1]) + "…"


def _jsonable(value: Any, budget: list[int], depth: int = 0) -> Any:
    """A JSON-safe copy of `value`, bounded in depth and size; strings cut to MAX_MESSAGE_CHARS."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 16:
        return None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)                                # IntEnum (HTTPStatus) -> plain int
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, str):
        return _cut(value, MAX_MESSAGE_CHARS * 4)
    if isinstance(value, (bytes, bytearray)):
        return _cut(bytes(value[:65536]).decode("utf-8", "replace"), MAX_MESSAGE_CHARS * 4)
    if isinstance(value, Mapping):
        out = {}
        for k, v in list(value.items())[:200]:
            out[k if isinstance(k, str) else str(k)] = _jsonable(v, budget, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v, budget, depth + 1) for v in list(value)[:200]]
    for attr in ("model_dump", "to_dict", "dict"):      # pydantic models and the like
        method = _attr(value, attr)
        if callable(method):
            try:
                return _jsonable(method(), budget, depth + 1)
            except Exception:  # noqa: BLE001
                break
    return _cut(str(value), MAX_MESSAGE_CHARS)


def extract_error(error: Any) -> dict[str, Any]:
    """The event's `error` object for an exception or an error dict: redacted, capped, JSON-safe."""
    source, status, code = _quick(error)
    if isinstance(source, Mapping):
        etype, message, body = source.get("type"), source.get("message"), source.get("body")
    else:
        etype = type(source).__name__
        message = _attr(source, "message")
        if not isinstance(message, str) or not message:
            try:
                message = str(source)
            except Exception:  # noqa: BLE001 - a broken __str__
                message = None
        if not message and source is not error:
            message = str(error)
        body = _raw_body(source)
        if body is None:
            body = _google_body(source) if hasattr(source, "grpc_status_code") else _response_body(source)
    out: dict[str, Any] = {}
    if status is not None:
        out["status_code"] = status
    for name, value in (("type", etype), ("code", code)):
        if isinstance(value, str) and value:
            out[name] = _cut(redact_text(value[:MAX_TEXT_CHARS * 4]), MAX_TEXT_CHARS)
    if isinstance(message, str) and message:
        out["message"] = _cut(redact_text(_cut(message, MAX_MESSAGE_CHARS * 4)), MAX_MESSAGE_CHARS)
    if body is not None:
        body = redact(_jsonable(body, [_MAX_NODES]))
        encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if len(encoded.encode()) > MAX_BODY_BYTES:
            body = _cut(encoded, MAX_BODY_BYTES // 4)
        out["body"] = body
    return out


# --------------------------------------------------------------------------------------------------
# The reporter.

_Entry = tuple  # (dedup key, kind, uid, provider, source, status, code, fingerprint, fields, time)


class Reporter:
    """Reports BYOK key failures to a Pub/Sub topic; one per process, shared by all threads.

    Options:
      window_seconds (60): identical reports (uid, provider, status, code, key fingerprint)
        within this window publish once.
      max_keys (10000): distinct reports remembered for the window (oldest forgotten first).
      buffer_size (1000): events waiting to be published; when full the oldest is dropped.
      max_in_flight (100): publishes awaiting Pub/Sub's answer; more wait in the buffer.
      publish_timeout (30): seconds the client may retry one publish before it is dropped.
      fingerprint_pepper (env BYOK_KEY_FINGERPRINT_PEPPER): secret for `key` fingerprints;
        without it a `key` is ignored (a random pepper would differ between instances).
      stats_interval (300): seconds between stats log lines (only when something changed).
      recovered_events (True): let report_recovered() publish (False: never report recoveries).
      recovery_memory (86400): seconds a reported failure makes report_recovered() publish.
      publisher_client: a google.cloud.pubsub_v1.PublisherClient to use instead of making one.
      logger: a logging.Logger for the reporter's own lines (default "byok.publisher").
      exit_timeout (2): at interpreter exit, seconds spent publishing what is still buffered
        (call close() yourself on shutdown to choose).
    """

    def __init__(self, project_id: str, topic: str, *, window_seconds: float = 60.0,
                 max_keys: int = 10000, buffer_size: int = 1000, max_in_flight: int = 100,
                 publish_timeout: float = 30.0, fingerprint_pepper: str | bytes | None = None,
                 stats_interval: float = 300.0, recovered_events: bool = True,
                 publisher_client: Any = None, logger: logging.Logger | None = None,
                 exit_timeout: float = 2.0, recovery_memory: float = 86400.0) -> None:
        self.project_id = project_id
        self.topic = topic
        self.topic_path = topic if topic.startswith("projects/") else f"projects/{project_id}/topics/{topic}"
        self.window_seconds = float(window_seconds)
        self.max_keys = max(1, int(max_keys))
        self.buffer_size = max(1, int(buffer_size))
        self.max_in_flight = max(1, int(max_in_flight))
        self.publish_timeout = float(publish_timeout)
        pepper = fingerprint_pepper if fingerprint_pepper is not None \
            else os.environ.get("BYOK_KEY_FINGERPRINT_PEPPER") or None
        self._pepper = pepper.encode() if isinstance(pepper, str) else pepper
        self.stats_interval = float(stats_interval)
        self.recovered_events = recovered_events
        self.recovery_memory = float(recovery_memory)
        self._log = logger or log
        self._given_client = publisher_client
        self._counts = collections.Counter()
        self._warned: set[str] = set()
        self._fingerprints: dict[int, str] = {}
        self._setup()
        ref = weakref.ref(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: (r := ref()) is not None and r._setup())
        # At interpreter exit, give what is buffered a short chance (the thread is a daemon).
        atexit.register(lambda: (r := ref()) is not None and not r._closed and r.close(exit_timeout))

    def _setup(self) -> None:
        """Fresh state (at start, and in a forked child: threads and gRPC channels don't survive fork)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._seen: collections.OrderedDict = collections.OrderedDict()
        self._failed: collections.OrderedDict = collections.OrderedDict()
        self._queue: collections.deque = collections.deque()
        self._in_flight = 0
        self._worker_waiting = False
        self._closed = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._client = self._given_client
        self._owns_client = self._given_client is None
        self._client_retry_at = 0.0
        self._retry = None

    # ---- the hot path ---------------------------------------------------------------------------

    def report(self, uid: str, provider: str, error: Any, *, key: str | None = None,
               key_fingerprint: str | None = None, feature: str | None = None,
               model: str | None = None, operation: str | None = None) -> bool:
        """Report a failed call made with the user's key. Never raises, never blocks.

        `error` is the exception the SDK raised (or a wrapper around it), or the event's `error`
        dict. `key` (optional) is turned into an HMAC fingerprint and never leaves this call.
        Returns True when an event was queued, False when it was a repeat, invalid or refused.
        """
        try:
            fields = (feature, model, operation)
            return self._report("error", uid, provider, error, key, key_fingerprint, fields)
        except Exception:  # noqa: BLE001 - the request path must never see our failure
            self._count_and_warn("internal_errors", "report() failed internally; event dropped",
                                 exc_info=True)
            return False

    def report_recovered(self, uid: str, provider: str, *, key: str | None = None,
                         key_fingerprint: str | None = None, force: bool = False) -> bool:
        """Report that a call with the user's key worked again (kind "recovered").

        Meant to be called after every successful call: it costs a dict lookup and publishes only
        when this process reported a failure for (uid, provider) in the last `recovery_memory`
        seconds (or with force=True, for a backend that tracks key health itself); then rate-limited
        like failures. Publishes nothing when recovered_events=False.
        """
        try:
            target = (uid, provider)
            if not force:
                expires = self._failed.get(target)
                if expires is None or expires < time.monotonic():
                    return False
            if not self.recovered_events:
                self._count("recovered_disabled")
                return False
            with self._lock:
                self._failed.pop(target, None)
            return self._report("recovered", uid, provider, None, key, key_fingerprint,
                                (None, None, None))
        except Exception:  # noqa: BLE001
            self._count_and_warn("internal_errors", "report_recovered() failed internally",
                                 exc_info=True)
            return False

    def _report(self, kind: str, uid: Any, provider: Any, error: Any, key: Any, fingerprint: Any,
                fields: tuple) -> bool:
        if kind == "error":
            source, status, code = _quick(error)
        else:
            source, status, code = None, None, "recovered"
        if fingerprint is None and key and self._pepper:
            fingerprint = self._fingerprint(key)
        # The hot path: a repeat of a report seen (so validated) within the window.
        if type(uid) is str and type(provider) is str:
            dedup = (uid, provider, status, code, fingerprint)
            now = time.monotonic()
            with self._lock:
                expires = self._seen.get(dedup)
                if expires is not None and expires > now:
                    self._counts["suppressed"] += 1
                    return False
        if isinstance(provider, str) and not PROVIDER_RE.fullmatch(provider):
            provider = provider.strip().lower()
        if not valid_uid(uid):
            self._count_and_warn("invalid", "report dropped: uid is not a valid Firestore document id")
            return False
        if not isinstance(provider, str) or not PROVIDER_RE.fullmatch(provider):
            self._count_and_warn("invalid", "report dropped: provider must match [a-z0-9_-]{1,40}")
            return False
        if fingerprint is not None and (not isinstance(fingerprint, str)
                                        or not FINGERPRINT_RE.fullmatch(fingerprint)):
            self._count_and_warn("invalid_fingerprint", "key_fingerprint ignored: not 1-128 of "
                                 "[A-Za-z0-9_:.=+/-]")
            fingerprint = None
            if key and self._pepper:
                fingerprint = self._fingerprint(key)
        if key and not self._pepper and fingerprint is None:
            self._count_and_warn("no_pepper", "key given but no fingerprint_pepper configured: key ignored")
        dedup = (uid, provider, status, code, fingerprint)
        now = time.monotonic()
        start_worker = False
        with self._lock:
            if self._closed:
                self._counts["closed"] += 1
                return False
            seen = self._seen
            expires = seen.get(dedup)
            if expires is not None and expires > now:
                self._counts["suppressed"] += 1
                return False
            seen[dedup] = now + self.window_seconds
            seen.move_to_end(dedup)
            if len(seen) > self.max_keys:
                seen.popitem(last=False)
            else:
                for _ in range(2):                       # forget expired entries as we go
                    oldest = next(iter(seen.items()), None)
                    if oldest is None or oldest[1] > now:
                        break
                    del seen[oldest[0]]
            queue = self._queue
            if len(queue) >= self.buffer_size:
                dropped = queue.popleft()
                self._counts["dropped"] += 1
                if seen.get(dropped[0], 0) > now:        # let a later repeat try again
                    del seen[dropped[0]]
            queue.append((dedup, kind, uid, provider, source, status, code, fingerprint, fields,
                          time.time()))
            if kind == "error":                          # for report_recovered()
                failed = self._failed
                failed[(uid, provider)] = now + self.recovery_memory
                failed.move_to_end((uid, provider))
                if len(failed) > self.max_keys:
                    failed.popitem(last=False)
            self._counts["queued"] += 1
            if self._thread is None:
                start_worker = True
                self._thread = threading.Thread(target=self._run, name="byok-reporter", daemon=True)
            elif self._worker_waiting:
                self._wake.notify()
        if start_worker:
            self._thread.start()
        return True

    def _fingerprint(self, key: Any) -> str:
        """The key's HMAC, remembered by the key's hash (never the key itself) for repeats."""
        key = key if isinstance(key, str) else str(key)
        h = hash(key)
        cached = self._fingerprints.get(h)
        if cached is None:
            if len(self._fingerprints) >= 4096:
                self._fingerprints.clear()
            cached = self._fingerprints[h] = fingerprint_key(key, self._pepper)
        return cached

    # ---- counters and logs ----------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _count_and_warn(self, name: str | None, message: str, exc_info: bool = False) -> None:
        """Count a problem; log it the first time only (a flood must not flood the logs)."""
        with self._lock:
            if name:
                self._counts[name] += 1
            first = message not in self._warned
            if first:
                self._warned.add(message)
        if first:
            self._log.warning("byok reporter: %s (logged once; see stats())", message, exc_info=exc_info)

    def stats(self) -> dict[str, int]:
        """Counters since start: queued, published, suppressed, dropped, failed, invalid, ...,
        plus the current buffer length, publishes in flight and distinct reports remembered."""
        with self._lock:
            out = {name: 0 for name in ("queued", "published", "suppressed", "dropped", "failed",
                                        "invalid", "internal_errors")}
            out.update(self._counts)
            out["buffered"] = len(self._queue)
            out["in_flight"] = self._in_flight
            out["remembered"] = len(self._seen)
        return out

    def _log_stats(self, reason: str) -> None:
        self._log.info("byok reporter stats (%s): %s", reason, json.dumps(self.stats(), sort_keys=True))

    # ---- the background thread ------------------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        if time.monotonic() < self._client_retry_at:
            return None
        try:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient()
        except Exception as exc:  # noqa: BLE001 - no credentials, bad environment: retry later
            self._client_retry_at = time.monotonic() + 10.0
            self._count_and_warn("client_errors", f"cannot create the Pub/Sub client "
                                 f"({type(exc).__name__}); events wait in the buffer")
            return None
        return self._client

    def _get_retry(self) -> Any:
        if self._retry is None:
            from google.api_core import exceptions as gexc
            from google.api_core.retry import Retry, if_exception_type

            self._retry = Retry(
                predicate=if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded,
                                            gexc.InternalServerError, gexc.Aborted,
                                            gexc.ResourceExhausted, gexc.Unknown, gexc.Cancelled),
                initial=0.1, maximum=5.0, multiplier=2.0, timeout=self.publish_timeout)
        return self._retry

    def _run(self) -> None:
        last_stats = time.monotonic()
        logged_counts: dict = {}
        while True:
            with self._lock:
                while (not self._queue or self._in_flight >= self.max_in_flight) and not self._stopping:
                    self._worker_waiting = True
                    self._wake.wait(timeout=min(self.stats_interval, 5.0))
                    self._worker_waiting = False
                    if time.monotonic() - last_stats >= self.stats_interval:
                        break
                if self._stopping and (not self._queue or self._client is None):
                    break
                entry = None
                if self._queue and self._in_flight < self.max_in_flight:
                    entry = self._queue.popleft()
                    self._in_flight += 1
            if time.monotonic() - last_stats >= self.stats_interval:
                last_stats = time.monotonic()
                current = dict(self._counts)
                if current != logged_counts:
                    logged_counts = current
                    self._log_stats("periodic")
            if entry is not None:
                self._publish(entry)
        self._shutdown_client()

    def _publish(self, entry: _Entry) -> None:
        dedup = entry[0]
        try:
            data, attributes = self._encode(entry)
        except Exception:  # noqa: BLE001 - an error object we could not read: never retry it
            self._finish(dedup, ok=False, counter="unencodable")
            self._count_and_warn(None, "an event could not be encoded; dropped", exc_info=True)
            return
        client = self._get_client()
        if client is None:
            with self._lock:                             # back to the front; wait for a client
                self._queue.appendleft(entry)
                self._in_flight -= 1
                self._idle.notify_all()
            time.sleep(0.2)
            return
        try:
            future = client.publish(self.topic_path, data, retry=self._get_retry(),
                                    timeout=self.publish_timeout, **attributes)
        except Exception as exc:  # noqa: BLE001 - client stopped, bad topic name...
            self._finish(dedup, ok=False)
            self._count_and_warn(None, f"publish refused ({type(exc).__name__}); counted as failed")
            return
        future.add_done_callback(lambda f: self._done(f, dedup))

    def _done(self, future: Any, dedup: tuple) -> None:
        try:
            future.result(timeout=0)
            ok = True
        except Exception as exc:  # noqa: BLE001
            ok = False
            self._count_and_warn(None, f"publish failed ({type(exc).__name__}); "
                                 "events dropped and counted as failed")
        self._finish(dedup, ok)

    def _finish(self, dedup: tuple, ok: bool, counter: str | None = None) -> None:
        with self._lock:
            self._in_flight -= 1
            self._counts[counter or ("published" if ok else "failed")] += 1
            if not ok and dedup in self._seen:
                del self._seen[dedup]                    # a later repeat may try again
            self._wake.notify()
            if not self._queue and self._in_flight == 0:
                self._idle.notify_all()

    def _encode(self, entry: _Entry) -> tuple[bytes, dict[str, str]]:
        _, kind, uid, provider, source, status, code, fingerprint, fields, at = entry
        event: dict[str, Any] = {
            "version": 1, "kind": kind, "uid": uid, "provider": provider,
            "occurred_at": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        if fingerprint:
            event["key_fingerprint"] = fingerprint
        for name, value in zip(("feature", "model", "operation"), fields):
            if value is not None:
                text = value if isinstance(value, str) else str(value)
                event[name] = _cut(redact_text(text[:MAX_FIELD_CHARS * 4]), MAX_FIELD_CHARS)
        event["error"] = extract_error(source) if kind == "error" else {}
        attributes = {"version": "1", "kind": kind, "provider": provider}
        if status is not None:
            attributes["status_code"] = str(status)
        code_out = event["error"].get("code")
        if code_out:
            attributes["code"] = code_out[:128]
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(), attributes

    def _shutdown_client(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            try:
                client.stop()
            except Exception:  # noqa: BLE001
                pass

    # ---- flush and close ------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is published or failed (at most `timeout` seconds).
        Returns True when nothing is left waiting."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.notify()
                self._idle.wait(timeout=min(remaining, 0.5))
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking reports, publish what is buffered (up to `timeout` s), stop the thread.
        Returns True when everything buffered was handed to Pub/Sub and answered."""
        with self._lock:
            if self._closed and self._thread is None:
                return not self._queue
            self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        done = self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
            lost = len(self._queue)
            if lost:
                self._counts["dropped"] += lost
                self._queue.clear()
        if thread is not None:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        else:
            self._shutdown_client()
        self._log_stats("close")
        return done

    async def aflush(self, timeout: float = 5.0) -> bool:
        """flush() for asyncio code: waits in a worker thread, not on the event loop."""
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float = 5.0) -> bool:
        """close() for asyncio code (e.g. a FastAPI lifespan's shutdown)."""
        return await asyncio.to_thread(self.close, timeout)

    # ---- integrations -----------------------------------------------------------------------------

    def langchain_handler(self, uid: str, provider: str, **fields: Any) -> Any:
        """A LangChain callback handler that reports LLM errors for this user and provider.

        Needs langchain-core (imported only here): `llm.invoke(..., config={"callbacks":
        [reporter.langchain_handler(uid, "openai", feature="chat")]})`."""
        return _langchain_handler_class()(self, uid, provider, fields)

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_handler_class: Any = None


def _langchain_handler_class() -> Any:
    global _handler_class
    if _handler_class is None:
        from langchain_core.callbacks import BaseCallbackHandler

        class ByokErrorHandler(BaseCallbackHandler):
            """Reports on_llm_error to a Reporter; never raises into LangChain."""

            raise_error = False
            run_inline = True

            def __init__(self, reporter: Reporter, uid: str, provider: str, fields: dict) -> None:
                self.reporter, self.uid, self.provider, self.fields = reporter, uid, provider, fields

            def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
                self.reporter.report(self.uid, self.provider, error, **self.fields)

        _handler_class = ByokErrorHandler
    return _handler_class
