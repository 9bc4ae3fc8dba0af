"""Decide whether a provider error needs the user: their key is invalid, not permitted, or out of quota.

A false alarm ("your key is broken" for a transient rate limit or for our own bug) costs the user's trust,
so the classifier reads everything the event carries (the status, the provider's error code or type, the
body and the message text, which is often only `str(exception)` of some SDK or wrapper) and answers None
whenever the evidence is not clear. Pure Python, no I/O, never raises; the text scanned is capped so a
huge or hostile error costs the same as a small one. The rules and how they were measured:
docs/classification.md.
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REASONS = ("invalid_key", "permission_denied", "quota_exhausted")
INVALID_KEY, PERMISSION_DENIED, QUOTA_EXHAUSTED = REASONS

MAX_TEXT = 8192          # characters scanned from the message, and again from the body
_MAX_DEPTH = 24          # nesting followed when flattening a body

# Provider slugs that speak the same error dialect.
_ALIASES = {
    "google": "gemini", "google_genai": "gemini", "google-genai": "gemini", "genai": "gemini",
    "gemini": "gemini", "vertex": "gemini", "vertex_ai": "gemini", "vertexai": "gemini",
    "vertex-ai": "gemini", "google_vertex": "gemini", "aistudio": "gemini",
    "azure": "azure_openai", "azure_openai": "azure_openai", "azure-openai": "azure_openai",
    "x-ai": "xai", "grok": "xai", "claude": "anthropic",
}


def _family(provider: Any) -> str:
    slug = provider.strip().lower() if isinstance(provider, str) else ""
    return _ALIASES.get(slug, slug)


# --------------------------------------------------------------------------------------------------
# Normalising what arrived: a bounded text dump of any JSON value, and the HTTP status wherever it hides.

def _dump(value: Any, out: list[str], budget: list[int], depth: int = 0) -> None:
    """Append a compact JSON-like rendering of `value` to `out`, stopping once `budget` runs out."""
    if budget[0] <= 0:
        return
    if isinstance(value, str):
        piece = value[: budget[0]]
    elif isinstance(value, Mapping):
        if depth >= _MAX_DEPTH:
            return
        out.append("{")
        budget[0] -= 1
        for k, v in value.items():
            if budget[0] <= 0:
                return
            key = k[:256] if isinstance(k, str) else repr(k)[:256]
            out.append('"' + key + '":')
            budget[0] -= len(key) + 3
            if isinstance(v, str):
                v = v[: max(budget[0], 0)]
                out.append('"' + v + '",')
                budget[0] -= len(v) + 3
            else:
                _dump(v, out, budget, depth + 1)
                out.append(",")
                budget[0] -= 1
        out.append("}")
        return
    elif isinstance(value, (list, tuple)):
        if depth >= _MAX_DEPTH:
            return
        out.append("[")
        budget[0] -= 1
        for v in value:
            if budget[0] <= 0:
                return
            _dump(v, out, budget, depth + 1)
            out.append(",")
            budget[0] -= 1
        out.append("]")
        return
    elif value is None or isinstance(value, (bool, int, float)):
        piece = "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)
        piece = piece[:64]
    else:
        piece = type(value).__name__
    out.append(piece)
    budget[0] -= len(piece)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if value is None:
        return ""
    out: list[str] = []
    _dump(value, out, [MAX_TEXT])
    return "".join(out)[:MAX_TEXT]


def _as_status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 3:
        value = int(value.strip())
    if isinstance(value, int) and 100 <= value <= 599:
        return value
    return None


# Where SDKs and wrappers put the status in their string forms (searched in the lower-cased head of
# the message; the leftmost plausible error status wins).
_STATUS_HEAD = 1024
_STATUS_IN_TEXT = re.compile(
    r"error code:?\s*(\d{3})\b"                              # openai/anthropic Python SDK
    r"|\bstatus(?:[ _-]?code)?\W{0,3}(\d{3})\b"              # Fern SDKs, Deepgram v3 "(Status: 401)", httpx
    r"|\bhttp(?:/[\d.]+)?(?: error| status)?:?\s*(\d{3})\b"  # WebSocket rejections, HTTPError
    r"|\bunexpected (?:server )?response(?: code)?:?\s*(\d{3})\b"  # ws (Node) / browser WebSocket handshakes
    r"|\bupgrade failed\b[^(\n]{0,60}\((\d{3})\)"            # Azure Speech SDK "WebSocket upgrade failed: ... (401)"
    r"|\bapi error:?\s*(\d{3})\b"                          # app wrappers "API error 402: {...}", "API Error: 400 {...}"
    r"|^\s*(?:[\w.]++(?: -)?:\s*)*(\d{3})\b(?![.,:]\d)"      # Node SDK "429 {...}", google "400 X."
)
_BODY_CODE = re.compile(r"""["']code["']\s*:\s*(\d{3})\b""")           # {"error": {"code": 429, ...}}

# Exception class names that stand for a status when a wrapper (LangChain, LiteLLM...) dropped it.
_CLASS_STATUS = re.compile(
    r"(?P<s401>authenticationerror|unauthenticated|unauthorizederror|invalidapikeyerror)"
    r"|(?P<s403>permissiondeniederror|permissiondenied|forbiddenerror)"
    r"|(?P<s402>paymentrequirederror|insufficientcreditserror)"
    r"|(?P<s429>ratelimiterror|resourceexhausted|toomanyrequestserror)"
    r"|(?P<s503>internalservererror|serviceunavailable|overloadederror|badgatewayerror|gatewaytimeout|"
    r"deadlineexceeded|apiconnectionerror|apitimeouterror|timeouterror|readtimeout|connecttimeout|"
    r"connecterror|connectionerror|remoteprotocolerror|\btimeout\b)"
)


def _status(error: Mapping, head: str, body_text: str) -> int | None:
    """The HTTP status: the event's field, else where an SDK's string form put it, else the body's
    error code, else what the exception class name stands for. `head` is the lower-cased message start."""
    status = _as_status(error.get("status_code"))
    if status is None:
        status = _as_status(error.get("status"))
    if status is not None and status != 200:
        return status
    for m in _STATUS_IN_TEXT.finditer(head):
        found = _as_status(next(g for g in m.groups() if g))
        if found is not None and found >= 400:
            return found
    m = _BODY_CODE.search(body_text) or _BODY_CODE.search(head)
    if m:
        found = _as_status(m.group(1))
        if found is not None and found >= 400:
            return found
    kind = error.get("type")
    names = f"{kind.lower()[:100] if isinstance(kind, str) else ''} {head[:300]}"
    m = _CLASS_STATUS.search(names)
    if m:
        return int(m.lastgroup[1:])
    return status


# --------------------------------------------------------------------------------------------------
# The rules. Each is a regex over the lower-cased haystack (type, code, message, body); order matters.

_LITERAL = re.compile(r"[a-z0-9 _'\-:,/<!\"]+")


class _Rules:
    """Alternative patterns, each guarded by the literal it starts with: `literal in text` is a C-speed
    scan, so the regex engine only runs on the few texts that can match (most patterns start with a
    literal word, and most texts hold none of them)."""

    __slots__ = ("_items",)

    def __init__(self, parts: tuple[str, ...]) -> None:
        items = []
        for part in parts:
            src = part[2:] if part.startswith(r"\b") else part
            m = _LITERAL.match(src)
            anchor = m.group(0) if m else ""
            if anchor and len(src) > len(anchor) and src[len(anchor)] in "?*{":
                anchor = anchor[:-1]          # the last character is optional or repeated
            items.append((anchor if len(anchor) >= 3 else "", re.compile(part)))
        self._items = tuple(items)

    def search(self, text: str) -> bool:
        for anchor, pattern in self._items:
            if (not anchor or anchor in text) and pattern.search(text):
                return True
        return False


def _rx(*parts: str) -> _Rules:
    return _Rules(parts)


# Never the user's key: where our servers run, what our request asked, a provider under load.
_NOT_ACTIONABLE = _rx(
    r"unsupported_country_region_territory", r"country, region,? or territory not supported",
    r"user location is not supported", r"not (?:available|supported) in your (?:country|region|location)",
    r"location is not supported", r"please check your network settings",
    r"\boverloaded", r"\bserver (?:is )?busy", r"system_busy",
    r"content[_ ]?policy", r"content[_ ]management[_ ]policy", r"content_filter", r"\bflagged\b",
    r"requires moderation", r"responsibleaipolicyviolation",
    r"<html", r"<!doctype", r"cloudflare",
    r"provider returned error",           # OpenRouter relaying its upstream's failure
    r"not allowed to generate embeddings",  # OpenAI: a chat model sent to /embeddings (our request), a 403
    r"\brequest not allowed\b",            # Anthropic edge 403 "forbidden" (where the request came from)
    r"litellm\.(?:budgetexceedederror|contextwindowexceedederror|contentpolicyviolationerror)",
    r"budget has been exceeded",          # a LiteLLM proxy budget is ours, not the user's
)

_INVALID_KEY = _rx(
    r"\binvalid_api_key\b", r"\bincorrect api key\b", r"\binvalid api[ _-]?(?:key|token)\b", r"\bapi[ _-]key not valid\b",
    r"\bapi_key_invalid\b", r"\bapi key expired\b", r"\bapi key not found\b", r"\binvalid x-api-key\b",
    r"\bauthentication_error\b", r"\binvalid authentication\b", r"\binvalid_auth\b",
    r"\binvalid credentials\b", r"\bno auth credentials found\b", r"\bauthentication fails\b",
    r"\binvalid subscription key\b", r"\bunregistered callers\b", r"\bdidn't provide an api key\b",
    r"\bdid not provide an api key\b", r"\bmissing (?:the )?api[ _-]?key\b", r"\bno api key (?:was )?provided\b",
    r"\bapi key (?:was )?reported as leaked\b", r"\bapi keys are not supported by this api\b",
    r"\binvalid bearer token\b", r"\btoken (?:is )?expired\b", r"\bexpired api key\b",
    r"\bapi key (?:is )?(?:invalid|revoked|disabled)\b", r"\bkey (?:has been|was) (?:revoked|deleted|disabled)\b",
    r"\bunauthenticated\b", r"\bunauthorized\b", r"\bnot authorized\b(?! to)",
)

_PERMISSION = _rx(
    r"\bpermission_error\b", r"\bpermission_denied\b",
    r"(?<!\()\bpermissiondenied\b",      # not Azure's reason phrase "401 (PermissionDenied)" for a bad key
    r"\bdoes not have permission\b", r"\bdo not have permission\b", r"\bdon't have permission\b",
    r"\bcaller does not have permission\b", r"\binsufficient[_ ]permissions?\b", r"\bmissing[_ ]permissions?\b",
    r"\bmissing the permission\b", r"\bmissing scopes?\b", r"\binsufficient permissions for this operation\b",
    r"\b(?:do|does) not have access to (?:it|the model|this model|model|the requested model)\b",
    r"\bnot allowed to (?:sample|use|access)\b", r"\bnot have access to (?:model|the model)\b",
    r"\borganization (?:has been|is) (?:disabled|restricted|suspended|deactivated)\b",
    r"\baccount (?:has been|is) (?:disabled|restricted|suspended|deactivated)\b", r"\baccount_deactivated\b",
    r"\borganization_restricted\b", r"\bhas been restricted\b", r"\bmust be verified\b",
    r"\bservice_disabled\b", r"\bhas not been used in project\b",
    r"\bapi_key_(?:service|http_referrer|ip_address|android_app|ios_app)_blocked\b",
    r"\brequests (?:to this api .{0,120}|from this .{0,80})are blocked\b",
    r"\bconsumer_suspended\b", r"\bhas been suspended\b", r"\bteam is blocked\b", r"\bbeen denied access\b",
    r"\bpublic access is disabled\b", r"\bvirtual network/firewall\b", r"\bapproved private endpoint\b",
    r"\bprincipal does not have access\b",
    r"\bno endpoints (?:found|available) matching your (?:guardrail restrictions and )?data policy\b",
    r"\bunusual activity\b", r"\bno_organization\b", r"\bmember of an organization\b",
    r"\baccess (?:was|has been) terminated\b",
    r"\bmismatched_organization\b", r"\binvalid_organization\b",
)

_QUOTA = _rx(
    r"\binsufficient_quota\b", r"\bbilling_hard_limit_reached\b", r"\bbilling hard limit\b",
    r"\bbilling_not_active\b", r"\baccount is not active\b", r"\bcredit balance is too low\b",
    r"\bbilling_error\b", r"\binsufficient[_ ](?:credits?|balance|funds)\b", r"\bout of credits?\b",
    r"\bnot enough credits?\b", r"\brequires more credits\b", r"\bcan only afford\b",
    r"\bused all available credits\b", r"\bdoesn't have any credits\b", r"\bdoes not have any credits\b",
    r"\b0 credits remaining\b", r"\bcredits? (?:are |is |have been )?(?:exhausted|depleted)\b",
    r"\bprepayment credits are depleted\b", r"\bspending (?:limit|cap)\b", r"\bspend limit\b",
    r"\breached your specified api usage limits\b", r"\bpayment[_ ]required\b",
    r"\bpaid_plan_required\b", r"\bkey limit exceeded\b", r"\bfree-models-per-day\b",
    r"\bquota_exceeded\b", r"\bexceeds your quota\b",
    r"\bexceeded your monthly included credits\b",   # Hugging Face Inference Providers
)
# Hints of money that count only when nothing says the window is short.
_QUOTA_WEAK = _rx(
    r"\bno credits\b", r"\bplan limit\b", r"\bmonthly (?:limit|quota)\b", r"\bpurchase (?:more )?credits\b",
    r"\badd (?:more )?credits\b", r"\btop up\b", r"\brecharge\b", r"exceeded your current quota",
    r"\binsufficient quota\b",                 # insufficient_quota reworded by an app (Codex CLI)
    r"\badd a credit card\b",                  # AssemblyAI streaming 4003: paid-only feature on a free account
)

# Daily, monthly and free-tier caps: quota that will not clear within minutes.
_DAILY_CAP = _rx(r"per[ _]?day", r"\(rpd\)", r"\(tpd\)", r"\bdaily\b",
                 r"per[ _]?month", r"\b(?:calls?|requests?) ?/ ?month\b")   # Cohere trial "1000 API calls / month"
# An account shut down, whatever status or exception class carried it (OpenAI sent it as a RateLimitError).
_TERMINATED = _rx(r"\baccess (?:was|has been) terminated\b")
_SHORT_WINDOW = _rx(r"per[ _]?minute", r"\(rpm\)", r"\(tpm\)", r"\bper min\b", r"per[ _]?second", r"per[ _]?hour")
# A daily cap whose rolling window frees a slot within seconds ("try again in 8.64s") is a rate limit.
_RETRY_SECONDS = re.compile(r"(?:try again|retry) in \d+(?:\.\d+)?\s*(?:s\b|ms\b|sec)")
_GOOGLE_ZERO_LIMIT = _rx(
    r"\blimit: ?0\b(?![.\d])", r"""quota_?value["']?\s*:\s*["']?0["']?\s*[,}]""",
    r"""quota_limit_value\W{1,30}(?:value\W{1,6})?0\b(?![.\d])""",
)


def _classify(provider: Any, error: Any) -> str | None:
    if isinstance(error, Mapping):
        message = _text(error.get("message"))
        body_text = _text(error.get("body"))
        extra = " ".join(_text(error.get(k))[:256] for k in ("type", "code") if error.get(k) is not None)
        err = error
    elif isinstance(error, str):
        message, body_text, extra, err = error[:MAX_TEXT], "", "", {}
    else:
        return None
    family = _family(provider)
    hay = f"{extra} {message} {body_text}".lower()
    if "  " in hay or "\n" in hay or "\t" in hay or "\r" in hay:
        # Whitespace runs collapse to one space: terminals and wrappers break lines inside phrases.
        hay = " ".join(hay.split())
    head = message[:_STATUS_HEAD].lower()
    status = _status(err, head, body_text)

    if status is not None and (status >= 500 or status < 400):
        return None
    if _NOT_ACTIONABLE.search(hay):
        return None

    if family == "gemini":
        return _gemini(status, hay)

    if _QUOTA.search(hay):
        return QUOTA_EXHAUSTED
    short = _SHORT_WINDOW.search(hay)
    if _QUOTA_WEAK.search(hay) and not short:
        return QUOTA_EXHAUSTED
    if _TERMINATED.search(hay):
        return PERMISSION_DENIED
    if status == 429 or "rate limit" in hay or "rate_limit" in hay or "ratelimit" in hay:
        if _DAILY_CAP.search(hay) and not short and not _RETRY_SECONDS.search(hay):
            return QUOTA_EXHAUSTED
        return None
    return _auth(status, hay)


def _auth(status: int | None, hay: str) -> str | None:
    """Invalid key or permission, from the text first and the status last."""
    if _PERMISSION.search(hay):
        return PERMISSION_DENIED
    if _INVALID_KEY.search(hay):
        return INVALID_KEY
    if status == 401:
        return INVALID_KEY
    if status == 402:
        return QUOTA_EXHAUSTED
    if status == 403:
        return PERMISSION_DENIED
    return None


def _gemini(status: int | None, hay: str) -> str | None:
    """Google's dialect: `status` words (RESOURCE_EXHAUSTED...) and quota violations decide, not wording."""
    if "api_key_invalid" in hay or "api key not valid" in hay or "api key expired" in hay:
        return INVALID_KEY
    if "reported as leaked" in hay:
        return INVALID_KEY
    if status == 429 or "resource_exhausted" in hay or "resource exhausted" in hay or "quota" in hay:
        if "prepayment credits" in hay or "spending cap" in hay or "billing account" in hay:
            return QUOTA_EXHAUSTED
        if _GOOGLE_ZERO_LIMIT.search(hay):
            return QUOTA_EXHAUSTED
        if _DAILY_CAP.search(hay):
            return QUOTA_EXHAUSTED
        if status == 429 or "resource_exhausted" in hay:
            return None
    if "invalid_argument" in hay and status in (None, 400) and "api key" not in hay:
        return None
    if "publisher model" in hay and "not found" in hay:
        return None   # Vertex 404 for a model id/version/region our platform chose, "or no access" boilerplate
    return _auth(status, hay)


def classify(provider: str, error: Mapping | None) -> str | None:
    """One of REASONS when the user must act on their key, else None (transient, ours, or unclear)."""
    try:
        return _classify(provider, error)
    except Exception:  # noqa: BLE001 - a classifier bug must never become a crash or an alarm
        return None


_CACHE_KEY_LIMIT = 4096  # characters of compact JSON; larger errors are classified every time


@lru_cache(maxsize=4096)
def _classify_json(provider: str, error_json: str) -> str | None:
    return classify(provider, json.loads(error_json))


def classify_cached(provider: str, error: Mapping | None) -> str | None:
    """classify() behind a bounded cache keyed by the error's exact JSON.

    A broken key fails the same way on every request, so the notifier sees the same error over and
    over; classification is a pure function of (provider, error), so the cache is exact. Encoding
    the key (C json) costs a fraction of classifying.
    """
    try:
        key = json.dumps(error, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return classify(provider, error)
    if len(key) > _CACHE_KEY_LIMIT or not isinstance(provider, str):
        return classify(provider, error)
    return _classify_json(provider, key)


# --------------------------------------------------------------------------------------------------

def cli(argv: list[str]) -> int:
    """`python -m functions classify`: JSON lines (provider, error) on stdin -> JSON lines with reason."""
    if argv and argv[0] in ("-h", "--help"):
        print("usage: python -m functions classify < events.jsonl  "
              "(one {\"provider\", \"error\"} object per line; prints {\"reason\"} per line)")
        return 0
    out = sys.stdout
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        out.write(json.dumps(_cli_line(number, raw)) + "\n")
    out.flush()
    return 0


def _cli_line(number: int, raw: bytes) -> dict[str, Any]:
    """The answer for one input line; a bad line is reported and the stream goes on."""
    try:
        item = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        return {"reason": None, "error": f"line {number}: not JSON ({getattr(exc, 'msg', 'invalid')})"}
    except RecursionError:
        return {"reason": None, "error": f"line {number}: JSON nested too deeply"}
    if not isinstance(item, dict):
        return {"reason": None, "error": f"line {number}: not a JSON object"}
    if "provider" not in item or "error" not in item:
        return {"reason": None, "error": f"line {number}: needs 'provider' and 'error'"}
    return {"reason": classify(item.get("provider"), item.get("error"))}
