"""Structured JSON log lines on stdout, the format Cloud Logging parses (`severity`, `message`, fields).

Every string field goes through redaction, so a key that slips into an error text or a body never
reaches a log line. Fields known to be validated identifiers skip that cost on the hot path.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Any

from .redact import redact

# Fields whose values we produced or validated ourselves (ids, slugs, enums, numbers).
_TRUSTED = frozenset({"event_id", "uid", "provider", "reason", "outcome", "function", "device",
                      "document", "targets", "accepted", "dead", "transient", "failed", "attempt",
                      "age_seconds", "latency_ms", "status_code", "invalid_reason", "count",
                      "rule", "evidence"})

_write_lock = threading.Lock()


def log(severity: str, message: str, **fields: Any) -> None:
    """Write one JSON line: severity (DEBUG/INFO/WARNING/ERROR/CRITICAL), message, then fields."""
    entry: dict[str, Any] = {"severity": severity, "message": redact(message)}
    for key, value in fields.items():
        if value is None:
            continue
        entry[key] = value if key in _TRUSTED else redact(value)
    line = json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))
    with _write_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
