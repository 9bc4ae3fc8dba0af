"""Secret redaction for anything that leaves the process: log lines and published events.

Pure standard library, so the backend's publisher can use it without the functions' dependencies.
It runs on every log line, so it is a handful of precompiled passes over the text (a few
microseconds for a typical line) and ordinary prose is left alone. What it replaces with MASK:

1. Known key shapes, wherever they appear: OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-),
   Anthropic (sk-ant-api03-...), OpenRouter (sk-or-v1-), Google (AIza..., ya29., 1//0),
   Groq (gsk_), xAI (xai-), ElevenLabs (sk_), Hugging Face (hf_), Perplexity, Replicate,
   NVIDIA, Cerebras, Fireworks, LangSmith, GitHub, Slack, Stripe, AWS access key ids, JWTs,
   FCM registration tokens and PEM private keys.
2. Credentials after an auth scheme: `Bearer ...`, `Basic ...`, `Token ...` (Deepgram).
3. Values after a key/token/secret/password word (`api_key=...`, `"token": "..."`,
   `API key provided: ...`) when they look random (a digit, or long).
4. Any run of 32+ characters of [A-Za-z0-9_-] that contains a digit, and any run of 32+
   letters and digits: the keys that have no prefix (Deepgram 40-hex, Azure 32-hex,
   Mistral 32-alnum, Cohere 40-alnum), FCM tokens, random ids. No English word is that long,
   so prose survives; snake_case error codes (no digit) survive too. A digit-free run made of
   CamelCase words is an identifier, not a key, and survives: Google quota ids such as
   `GenerateRequestsPerDayPerProjectPerModel-FreeTier` are what the classifier reads (a random
   key splits into one-letter or vowel-less or over-long "words" and is still masked).

Dict values under secret-sounding names ("authorization", "api_key", "token", ...) are masked
whole, whatever they hold.
"""
from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"
_MASK_HEAD = MASK[:-1]

_MAX_DEPTH = 32

# Known key shapes, each behind a literal that must occur in the text for its regex to run
# (a substring test is far cheaper than a regex scan, and most texts hold none of them).
_KNOWN_SHAPES = [
    ("sk-ant-", r"sk-ant-[A-Za-z0-9]{2,12}-[A-Za-z0-9_\-]{8,}"),  # Anthropic (api03, admin01, oat01)
    ("sk-or-", r"sk-or-v1-[A-Za-z0-9]{8,}"),                      # OpenRouter
    # OpenAI project/service/admin keys anywhere; legacy OpenAI, DeepSeek and other sk- keys only at
    # a word start (task-, desk- end words in prose) and with a digit (or a masking '*') in the body.
    ("sk-", r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-*]{8,}"
            r"|(?<![A-Za-z0-9]sk-)(?=[A-Za-z0-9_\-*]*[0-9*])[A-Za-z0-9_\-*]{16,})"),
    ("sk_", r"sk_(?<![A-Za-z0-9]sk_)[A-Za-z0-9]{20,}"),          # ElevenLabs
    ("k_", r"[sprk]k_(?:live|test)_[A-Za-z0-9]{16,}"),             # Stripe
    ("AIza", r"AIza[0-9A-Za-z_\-]{20,}"),                         # Google API keys (Gemini AI Studio)
    ("ya29.", r"ya29\.[0-9A-Za-z_\-.]{16,}"),                     # Google OAuth access tokens
    ("1//0", r"1//0[0-9A-Za-z_\-]{20,}"),                         # Google OAuth refresh tokens
    ("gsk_", r"gsk_[A-Za-z0-9]{16,}"),                            # Groq
    ("xai-", r"xai-[A-Za-z0-9]{16,}"),                            # xAI
    ("hf_", r"hf_[A-Za-z0-9]{16,}"),                              # Hugging Face
    ("pplx-", r"pplx-[A-Za-z0-9]{16,}"),                          # Perplexity
    ("r8_", r"r8_[A-Za-z0-9]{16,}"),                              # Replicate
    ("nvapi-", r"nvapi-[A-Za-z0-9_\-]{16,}"),                     # NVIDIA
    ("csk-", r"csk-[A-Za-z0-9]{16,}"),                            # Cerebras
    ("fw_", r"fw_[A-Za-z0-9]{16,}"),                              # Fireworks
    ("lsv2_", r"lsv2_[a-z]{2}_[A-Za-z0-9_]{16,}"),                # LangSmith
    ("gh", r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),  # GitHub
    ("xox", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),                   # Slack
    ("AKIA", r"AKIA[A-Z0-9]{16}"),                                # AWS access key ids
    ("ASIA", r"ASIA[A-Z0-9]{16}"),
    ("eyJ", r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*)?"),  # JWTs
    (":APA91", r"[A-Za-z0-9_\-]{0,400}:APA91[A-Za-z0-9_\-]*"),    # FCM registration tokens
    ("PRIVATE KEY-----", r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----(?:[\s\S]{0,8000}?-----END[A-Z ]{0,40}"
                         r"PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)"),  # PEM private keys, whole or cut
]
_KNOWN = [(literal, re.compile(pattern)) for literal, pattern in _KNOWN_SHAPES]

# Word-anchored rules run on the lower-cased text, one regex per word that actually occurs, each
# starting with its word as a literal (fast to find); spans are then masked in the original text.
_VALUE = r"([^\s\"'`,;}\])<>&\\]{6,})"
_SEPARATOR = r"s?\\?[\"']?\s*(?:[:=]|=>|\s+provided:?|\s+is:?)\s*\\?[\"']?"
# "Bearer abc", "Basic abc==", "Token abc" (Deepgram's scheme): the credential after the scheme.
_AUTH_RULES = [(word, re.compile(word + rf"(?<![a-z0-9_]{word})\s+([a-z0-9_\-.~+/=*]{{8,}})"))
               for word in ("bearer", "basic", "token", "digest")]
# key=..., "api_key": "...", x-goog-api-key: ..., "API key provided: ...", token is ...
_WORD_RULES = [(word, re.compile(word + _SEPARATOR + _VALUE))
               for word in ("key", "token", "secret", "password", "passwd", "pwd", "credential",
                            "signature")]
_PASSWORDISH = frozenset({"secret", "password", "passwd", "pwd", "credential"})
# The same rules for the rare text whose lower-case form has another length (some Unicode).
_AUTH_ANYCASE = re.compile(r"(?i)\b(?:bearer|basic|token|digest)\s+([A-Za-z0-9_\-.~+/=*]{8,})")
_WORDS_ANYCASE = re.compile(r"(?i)(key|token|secret|password|passwd|pwd|credential|signature)"
                            + _SEPARATOR + _VALUE)

# Long runs: keys without a prefix, tokens, random ids.
# Written as "a separator, then the run" so the regex engine can skip to separators quickly.
_RUN = re.compile(r"[^A-Za-z0-9_\-][A-Za-z0-9_\-]{32,}")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{32,}")
_CAMEL_WORD = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]")
_VOWELS = frozenset("aeiouyAEIOUY")
_DIGIT = re.compile(r"[0-9]")

_SECRET_FIELDS = frozenset({
    "authorization", "proxy_authorization", "api_key", "apikey", "x_api_key", "xi_api_key",
    "x_goog_api_key", "api_token", "key", "token", "access_token", "refresh_token", "id_token",
    "auth_token", "session_token", "bearer", "secret", "client_secret", "secret_key", "private_key",
    "password", "passwd", "cookie", "set_cookie", "credential", "credentials", "fcm_token",
    "registration_token", "fid", "subscription_key", "ocp_apim_subscription_key", "x_goog_user_project",
})


def _looks_secret(word: str, value: str, assigned: bool = False) -> bool:
    """Whether the value after a scheme or a key word is a credential rather than prose.

    `assigned`: the word was followed by ':' or '=' (password=..., "secret": "...").
    """
    if value.startswith(_MASK_HEAD) or value.startswith(_MASK_HEAD[1:]):
        return False
    if assigned and word in _PASSWORDISH:
        return True
    has_digit = _DIGIT.search(value) is not None
    if word in ("bearer", "basic", "digest"):
        return len(value) >= 8 and (has_digit or len(value) >= 20)
    # key/token are ordinary words too ("token limit", "key is invalid"): want something random.
    return len(value) >= 12 and (has_digit or len(value) >= 24)


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def _word_rules(text: str) -> str:
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    if len(lowered) == len(text):
        for rules in (_AUTH_RULES, _WORD_RULES):
            for word, pattern in rules:
                if word in lowered:
                    for m in pattern.finditer(lowered):
                        separator = lowered[m.start() + len(word):m.start(1)]
                        assigned = ":" in separator or "=" in separator
                        if _looks_secret(word, text[m.start(1):m.end(1)], assigned):
                            spans.append(m.span(1))
    else:
        for pattern in (_AUTH_ANYCASE, _WORDS_ANYCASE):
            for m in pattern.finditer(text):
                word = m.group(1).lower() if m.lastindex and m.lastindex > 1 else "bearer"
                if _looks_secret(word, m.group(m.lastindex), assigned=True):
                    spans.append(m.span(m.lastindex))
    return _mask_spans(text, spans) if spans else text


def _identifier(word: str) -> bool:
    """A digit-free run that reads as CamelCase words (GenerateRequestsPerDayPerProjectPerModel):
    every word 2 to 16 letters with a vowel (acronyms of 2 to 4 capitals allowed), at least 4
    letters per word on average. Random keys fail on one-letter or vowel-less or long "words"."""
    words = _CAMEL_WORD.findall(word)
    if not words or len(word) < 4 * len(words):
        return False
    for w in words:
        if w.isupper():
            if not 2 <= len(w) <= 4:
                return False
        elif not 2 <= len(w) <= 16 or not _VOWELS.intersection(w):
            return False
    return True


def _alnum_sub(m: re.Match) -> str:
    word = m.group(0)
    return word if _identifier(word) else MASK


def _run_sub(m: re.Match) -> str:
    run = m.group(0)
    if _DIGIT.search(run, 1):
        return run[0] + MASK
    return _ALNUM_RUN.sub(_alnum_sub, run)


def redact_text(text: str) -> str:
    """`text` with every secret-looking substring replaced by MASK."""
    if len(text) < 8:
        return text
    if len(text) >= 16:                      # the shortest known shape
        for literal, pattern in _KNOWN:
            if literal in text:
                text = pattern.sub(MASK, text)
    text = _word_rules(text)
    if len(text) >= 32:
        text = _RUN.sub(_run_sub, " " + text)[1:]
    return text


def _secret_field(name: str) -> bool:
    return name.strip().lower().replace("-", "_") in _SECRET_FIELDS


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of a JSON-like value with secrets removed from every string, at any depth.

    Dicts, lists and tuples are copied (tuples and sets become lists); numbers, booleans and None
    pass through; bytes are decoded; any other object becomes its redacted `str()`, so nothing
    unredacted can reach a JSON encoder's `default=str` later.
    """
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if _depth > _MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = redact_text(k) if isinstance(k, str) else redact_text(str(k))
            if isinstance(k, str) and _secret_field(k) and v not in ("", None) and not isinstance(v, bool):
                out[key] = MASK
            else:
                out[key] = redact(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    try:
        return redact_text(str(value))
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        return f"<{type(value).__name__}>"
