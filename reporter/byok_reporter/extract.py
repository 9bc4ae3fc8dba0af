"""Reading an error: status, code, type, message and body of any SDK's exception, by duck typing.

No SDK is imported: every provider SDK, wrapper (LiteLLM, LangChain, tenacity) and HTTP client we
know is read through the attributes it sets, so the reporter needs none of them installed. What
comes out is the contract's `error` object: redacted, capped, JSON-safe.
"""
from __future__ import annotations

import json
import re
from typing import Any, Mapping

from .redact import redact, redact_text

__all__ = ["extract_error"]

MAX_MESSAGE_CHARS = 4096        # error.message after redaction
MAX_TEXT_CHARS = 1024           # error.type, error.code (the contract's limit)
MAX_BODY_BYTES = 16384          # error.body as JSON; larger bodies become their truncated JSON text
_MAX_CHAIN = 8                  # wrapped exceptions followed
_MAX_NODES = 2000               # JSON nodes copied from a body
_SCAN_CHARS = 4096              # message text searched for a provider error code

# A provider error code written into an SDK's message text: 'code': 'insufficient_quota'.
_CODE_IN_TEXT = re.compile(r"""["'](?:code|err_code)["']\s*:\s*["']([A-Za-z][A-Za-z0-9_.\-]{1,63})["']""")
# What may be left at the end of a cut text: part of a token, maybe part of a key.
_TRAILING_TOKEN = re.compile(r"[^\s\"',;:(){}\[\]<>]+$")


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


def _close_code(exc: Any) -> int | None:
    """A WebSocket close code (1000-4999) an exception keeps: websockets' ConnectionClosed holds the
    close frame received (`rcvd`) or sent; a realtime API puts its reason there (1008: bad key)."""
    for frame in (_attr(exc, "rcvd"), _attr(exc, "sent")):
        code = _attr(frame, "code")
        if type(code) is int and 1000 <= code <= 4999:
            return code
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


def _aws_error(exc: Any) -> Mapping | None:
    """botocore's ClientError keeps the parsed answer as a dict: {"Error": {"Code", "Message"},
    "ResponseMetadata": {"HTTPStatusCode"}}; None for any other exception."""
    response = _attr(exc, "response")
    if isinstance(response, Mapping) and isinstance(response.get("Error"), Mapping):
        return response
    return None


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
    aws = _aws_error(exc)
    if aws is not None:
        return _as_status(_get(aws, "ResponseMetadata", "HTTPStatusCode"))
    return _close_code(exc)


def _raw_body(exc: Any) -> Any:
    """The provider's error body as the SDK kept it, without parsing anything."""
    body = _attr(exc, "body")
    if body is not None and not callable(body):
        return body
    details = _attr(exc, "details")            # google-genai APIError: the response JSON
    if isinstance(details, (dict, list)) and not hasattr(exc, "grpc_status_code"):
        return details
    aws = _aws_error(exc)                      # botocore: the error part, not the request's metadata
    if aws is not None:
        return {"Error": {k: v for k, v in aws["Error"].items() if k in ("Code", "Message", "Type")}}
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
                      _get(body, "Error", "Code"),
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
        status = error.get("status_code")
        status = status if type(status) is int and 1000 <= status <= 4999 else _as_status(status)
        code = error.get("code")
        if type(code) is int:
            code = str(code)        # a provider's numeric code (iFlytek's 11200): the event carries it as text
        elif not isinstance(code, str):
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
