"""Secret redaction for anything that leaves the process: log lines and published events.

Pure standard library, so the backend's publisher can use it without the functions' dependencies.
Known key shapes are replaced wherever they appear; so are bearer/basic credentials, values that
follow words like `key`, `token` or `secret`, and long random-looking strings (FCM tokens, hex keys).
"""
from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

_KNOWN_SHAPES = [
    r"sk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_\-]{16,}",   # Anthropic
    r"sk-or-v1-[A-Za-z0-9]{16,}",                      # OpenRouter
    r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-*]{12,}",  # OpenAI project/service keys
    r"sk-[A-Za-z0-9_\-*]{16,}",                        # OpenAI legacy, DeepSeek, others
    r"sk_[A-Za-z0-9]{24,}",                            # ElevenLabs
    r"AIza[0-9A-Za-z_\-]{30,}",                        # Google API keys (Gemini AI Studio)
    r"ya29\.[0-9A-Za-z_\-.]{16,}",                     # Google OAuth access tokens
    r"gsk_[A-Za-z0-9]{16,}",                           # Groq
    r"xai-[A-Za-z0-9]{16,}",                           # xAI
    r"hf_[A-Za-z0-9]{16,}",                            # Hugging Face
    r"pplx-[A-Za-z0-9]{16,}",                          # Perplexity
    r"r8_[A-Za-z0-9]{16,}",                            # Replicate
    r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",  # JWTs
    r"[A-Za-z0-9_\-]{8,}:APA91b[A-Za-z0-9_\-]{20,}",  # FCM registration tokens
]
_KNOWN = re.compile("|".join(f"(?:{p})" for p in _KNOWN_SHAPES))

# "Bearer abc", "Token abc" (Deepgram), "Basic abc=="
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|token|basic)(\s+)([A-Za-z0-9_\-.~+/=*]{8,})")

# key=..., "api_key": "...", x-goog-api-key: ..., token ... (value of 12+ non-space characters)
_AFTER_WORD = re.compile(
    r"(?i)((?:api[_\- ]?key|x-goog-api-key|x-api-key|access[_\- ]?token|refresh[_\- ]?token|"
    r"auth[_\- ]?token|secret|password|passwd|authorization|credential|key|token)s?"
    r"[\"']?\s*(?:[:=]|\bprovided:?|\bis)\s*[\"']?)([^\s\"',;}\]]{12,})")

# Long runs with both letters and digits: hex keys (Deepgram, Azure), random API keys.
_RANDOM = re.compile(r"(?<![A-Za-z0-9_\-])(?=[A-Za-z_\-]*[0-9])(?=[0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}")

_SECRET_KEYS = re.compile(r"(?i)^(authorization|api[_\-]?key|x-api-key|x-goog-api-key|key|token|"
                          r"access_token|refresh_token|secret|password|fcm_token|registration_token|fid)$")


def redact_text(text: str) -> str:
    """`text` with every secret-looking substring replaced by [REDACTED]."""
    if not text:
        return text
    text = _KNOWN.sub(MASK, text)
    text = _AUTH_SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _AFTER_WORD.sub(lambda m: m.group(1) + MASK if m.group(2) != MASK else m.group(0), text)
    return _RANDOM.sub(MASK, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of a JSON-like value with secrets removed from every string, at any depth."""
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 32:
        return MASK
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = str(k)
            if _SECRET_KEYS.match(key) and isinstance(v, (str, int)) and v not in ("", None):
                out[redact_text(key)] = MASK
            else:
                out[redact_text(key)] = redact(v, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, _depth + 1) for v in value]
    return value
