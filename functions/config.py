"""Configuration: every environment variable the functions read, validated once, in one place."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlparse

NOTIFIER = "notify_byok_llm_error"
CLEANUP = "cleanup_invalid_fcm_tokens"


class ConfigError(RuntimeError):
    """Missing or malformed configuration; the message lists every problem at once."""


@dataclass(frozen=True)
class Config:
    project: str
    redis_url: str | None
    redis_password: str | None
    redis_ca_cert: str | None
    fcm_endpoint: str | None
    fcm_timeout_seconds: float
    firestore_timeout_seconds: float
    dedup_window_seconds: int
    delivery_lease_seconds: int
    no_target_window_seconds: int
    max_event_age_seconds: int
    max_event_bytes: int
    status_collection: str | None
    status_flush_seconds: int
    user_language_field: str
    user_mute_field: str
    deep_link_template: str | None
    reminders: bool
    mark_cache_seconds: int
    redis_cluster: bool = False
    push_link_field: str = "deep_link"
    email_mode: str = "off"            # off | fallback | always
    email_collection: str = "mail"
    email_source: str = "field"        # field | auth
    user_email_field: str = "email"
    delivery_mode: str = "live"        # live | shadow
    surge_users: int = 25              # distinct users one failure may reach in a window before it is held (0: off)
    surge_window_seconds: int = 600
    # field of users/{uid}: provider slug -> fingerprint(s) of the key the user has now (None: not read)
    user_key_fingerprints_field: str | None = "byok_key_fingerprints"


# name: (default, minimum, maximum)
_INTS = {
    "DEDUP_WINDOW_SECONDS": (86400, 60, 30 * 86400),
    "DELIVERY_LEASE_SECONDS": (120, 10, 3600),
    "NO_TARGET_WINDOW_SECONDS": (3600, 1, 30 * 86400),
    "MAX_EVENT_AGE_SECONDS": (86400, 60, 7 * 86400),
    "MAX_EVENT_BYTES": (262144, 1024, 10 * 1024 * 1024),
    "STATUS_FLUSH_SECONDS": (300, 0, 86400),
    "MARK_CACHE_SECONDS": (30, 0, 3600),
    "SURGE_USERS": (25, 0, 5000),   # at most half of surge.COUNT_CAP, so a count can pass it
    "SURGE_WINDOW_SECONDS": (600, 60, 86400),
}
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Data keys the push itself uses, and the ones FCM reserves (`from`, `message_type`, `google.*`, `gcm.*`).
_PUSH_DATA_KEYS = ("type", "provider", "reason", "provider_name", "action_url", "reminder", "since", "lang")
_FCM_RESERVED = re.compile(r"(?i)^(from|notification|message_type|collapse_key|google.*|gcm.*)$")
EMAIL_MODES = ("off", "fallback", "always")
EMAIL_SOURCES = ("field", "auth")
DELIVERY_MODES = ("live", "shadow")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def load(environ: Mapping[str, str], need_redis: bool = True) -> Config:
    """Read and validate the configuration from `environ`; raise ConfigError listing all problems."""
    problems: list[str] = []

    def text(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    ints: dict[str, int] = {}
    for name, (default, low, high) in _INTS.items():
        raw = text(name)
        if raw is None:
            ints[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            unit = "seconds" if name.endswith("_SECONDS") else "users"
            problems.append(f"{name} must be a whole number of {unit}, got {raw!r}")
            continue
        if not low <= value <= high:
            problems.append(f"{name} must be between {low} and {high}, got {value}")
        ints[name] = value

    def seconds(name: str, default: float) -> float:
        raw = text(name) or str(default)
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{name} must be a number of seconds, got {raw!r}")
            return default
        if not 1 <= value <= 60:
            problems.append(f"{name} must be between 1 and 60, got {raw}")
        return value

    fcm_timeout = seconds("FCM_TIMEOUT_SECONDS", 10.0)
    firestore_timeout = seconds("FIRESTORE_TIMEOUT_SECONDS", 10.0)

    project = text("GOOGLE_CLOUD_PROJECT") or text("GCP_PROJECT")
    if not project:
        problems.append("GOOGLE_CLOUD_PROJECT is not set (the Google Cloud / Firebase project id)")

    redis_url = text("REDIS_URL")
    if redis_url:
        parsed = urlparse(redis_url)
        if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
            problems.append("REDIS_URL must look like redis://HOST:PORT/0 or rediss://HOST:PORT/0")
    elif need_redis:
        problems.append("REDIS_URL is not set (redis://HOST:6379/0, or rediss:// for Memorystore with TLS)")

    cluster_raw = (text("REDIS_CLUSTER") or "0").lower()
    if cluster_raw not in ("0", "1", "true", "false", "yes", "no"):
        problems.append(f"REDIS_CLUSTER must be 1 or 0 (true/false), got {cluster_raw!r}")
    redis_cluster = cluster_raw in ("1", "true", "yes")
    if redis_cluster and redis_url and urlparse(redis_url).path not in ("", "/", "/0"):
        problems.append("REDIS_CLUSTER=1 needs database 0 in REDIS_URL (a cluster has no other)")

    ca_cert = text("REDIS_CA_CERT")
    if ca_cert and not os.path.isfile(ca_cert):
        problems.append(f"REDIS_CA_CERT names no readable file: {ca_cert}")
    if ca_cert and redis_url and not redis_url.startswith("rediss://"):
        problems.append("REDIS_CA_CERT is set but REDIS_URL is not rediss:// (TLS)")

    fcm_endpoint = text("FCM_ENDPOINT")
    if fcm_endpoint:
        parsed = urlparse(fcm_endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(f"FCM_ENDPOINT must be an http(s) URL, got {fcm_endpoint!r}")
        fcm_endpoint = fcm_endpoint.rstrip("/")
        if environ.get("K_SERVICE"):  # set by Cloud Run, so on every deployed 2nd gen function
            problems.append("FCM_ENDPOINT is set on a deployed function: it is for local runs only, and "
                            "pushes would never reach FCM")

    if ints.get("NO_TARGET_WINDOW_SECONDS", 0) > ints.get("DEDUP_WINDOW_SECONDS", 0):
        problems.append("NO_TARGET_WINDOW_SECONDS must not exceed DEDUP_WINDOW_SECONDS")

    def field_name(name: str, default: str, allow_empty: bool = False) -> str | None:
        raw = environ.get(name)
        value = default if raw is None else raw.strip()
        if allow_empty and value in ("", "-"):
            return None
        if not _FIELD.fullmatch(value):
            problems.append(f"{name} must be a Firestore field or collection name ([A-Za-z_][A-Za-z0-9_]*), "
                            f"got {value!r}")
        return value

    status_collection = field_name("STATUS_COLLECTION", "byok_status", allow_empty=True)
    language_field = field_name("USER_LANGUAGE_FIELD", "language")
    mute_field = field_name("USER_MUTE_FIELD", "byok_alerts_muted")
    key_fingerprints_field = field_name("USER_KEY_FINGERPRINTS_FIELD", "byok_key_fingerprints", allow_empty=True)
    deep_link = environ.get("DEEP_LINK_TEMPLATE")
    if deep_link is None:
        deep_link = "app://settings/ai-keys?provider={provider}&reason={reason}"
    elif deep_link.strip() in ("", "-"):  # "-" says "none" where an empty value means "default" (deploy.sh)
        deep_link = None
    else:
        deep_link = deep_link.strip()
    if deep_link and (not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://|/(?!/)", deep_link)
                      or re.search(r"\{(?!provider\}|reason\})[^}]*\}", deep_link)):
        problems.append("DEEP_LINK_TEMPLATE must be a URL (scheme://...) or an in-app path (/settings) whose only "
                        "placeholders are {provider} and {reason}")
    link_field = field_name("PUSH_LINK_FIELD", "deep_link") or "deep_link"
    if link_field in _PUSH_DATA_KEYS or _FCM_RESERVED.match(link_field):
        problems.append(f"PUSH_LINK_FIELD must not be a data key the push already uses or FCM reserves, "
                        f"got {link_field!r}")

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = (text(name) or allowed[0]).lower()
        if value not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
            return allowed[0]
        return value

    email_mode = choice("EMAIL_MODE", EMAIL_MODES)
    email_source = choice("EMAIL_SOURCE", EMAIL_SOURCES)
    delivery_mode = choice("DELIVERY_MODE", DELIVERY_MODES)
    email_collection = field_name("EMAIL_COLLECTION", "mail") or "mail"
    if re.fullmatch(r"__.*__", email_collection):
        problems.append(f"EMAIL_COLLECTION {email_collection!r} is a name Firestore reserves")
    email_field = field_name("USER_EMAIL_FIELD", "email") or "email"
    reminders_raw = (text("REMINDERS") or "true").lower()
    if reminders_raw not in _TRUE + _FALSE:
        problems.append(f"REMINDERS must be true or false, got {reminders_raw!r}")

    lease = ints.get("DELIVERY_LEASE_SECONDS", 120)
    # Reading targets, then a send of two attempts plus firebase-admin's 503 backoff (~8 s),
    # must end before the lease does, or a slow delivery could overlap a redelivery. An email adds a
    # Firestore write (and, from Firebase Auth, one more HTTP call).
    budget = firestore_timeout + 2 * fcm_timeout + 10
    formula = "FIRESTORE_TIMEOUT_SECONDS + 2 x FCM_TIMEOUT_SECONDS + 10"
    if email_mode != "off":
        budget += firestore_timeout + (fcm_timeout if email_source == "auth" else 0)
        formula = ("2 x FIRESTORE_TIMEOUT_SECONDS + " + ("3" if email_source == "auth" else "2")
                   + " x FCM_TIMEOUT_SECONDS + 10 with EMAIL_MODE on")
    if lease < budget:
        problems.append(f"DELIVERY_LEASE_SECONDS ({lease}) must be at least {formula} ({budget:.0f}), "
                        "or a slow delivery could outlive its lease")
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems))
    return Config(
        project=project or "",
        redis_url=redis_url,
        redis_password=text("REDIS_PASSWORD"),
        redis_ca_cert=ca_cert,
        fcm_endpoint=fcm_endpoint,
        fcm_timeout_seconds=fcm_timeout,
        firestore_timeout_seconds=firestore_timeout,
        dedup_window_seconds=ints["DEDUP_WINDOW_SECONDS"],
        delivery_lease_seconds=ints["DELIVERY_LEASE_SECONDS"],
        no_target_window_seconds=ints["NO_TARGET_WINDOW_SECONDS"],
        max_event_age_seconds=ints["MAX_EVENT_AGE_SECONDS"],
        max_event_bytes=ints["MAX_EVENT_BYTES"],
        redis_cluster=redis_cluster,
        status_collection=status_collection,
        status_flush_seconds=ints["STATUS_FLUSH_SECONDS"],
        user_language_field=language_field or "language",
        user_mute_field=mute_field or "byok_alerts_muted",
        deep_link_template=deep_link,
        reminders=reminders_raw in _TRUE,
        mark_cache_seconds=ints["MARK_CACHE_SECONDS"],
        push_link_field=link_field,
        email_mode=email_mode,
        email_collection=email_collection,
        email_source=email_source,
        user_email_field=email_field,
        delivery_mode=delivery_mode,
        surge_users=ints["SURGE_USERS"],
        surge_window_seconds=ints["SURGE_WINDOW_SECONDS"],
        user_key_fingerprints_field=key_fingerprints_field,
    )


_lock = threading.Lock()
_cached: dict[bool, Config] = {}


def get(need_redis: bool = True) -> Config:
    """The process's configuration, read from os.environ on first use."""
    cfg = _cached.get(need_redis)
    if cfg is None:
        with _lock:
            cfg = _cached.get(need_redis)
            if cfg is None:
                cfg = _cached[need_redis] = load(os.environ, need_redis=need_redis)
    return cfg


def check_at_start() -> None:
    """Fail the instance's start, not its first event, when the served function is misconfigured."""
    target = os.environ.get("FUNCTION_TARGET")
    if target in (NOTIFIER, CLEANUP):
        get(need_redis=target == NOTIFIER)


def reset() -> None:
    """Forget the cached configuration (tests change the environment)."""
    with _lock:
        _cached.clear()
