"""Configuration is validated once, with every problem in one clear message."""
from __future__ import annotations

import pytest

from functions import config

BASE = {"GOOGLE_CLOUD_PROJECT": "demo-p", "REDIS_URL": "redis://127.0.0.1:6379/0"}


def test_defaults_match_the_documented_contract():
    cfg = config.load(BASE)
    assert (cfg.dedup_window_seconds, cfg.delivery_lease_seconds, cfg.no_target_window_seconds,
            cfg.max_event_age_seconds) == (86400, 120, 3600, 86400)
    assert cfg.fcm_endpoint is None and cfg.project == "demo-p"


def test_every_problem_is_reported_at_once():
    with pytest.raises(config.ConfigError) as info:
        config.load({"REDIS_URL": "http://x", "DEDUP_WINDOW_SECONDS": "a day", "FCM_ENDPOINT": "fcm.local"})
    text = str(info.value)
    assert "GOOGLE_CLOUD_PROJECT is not set" in text
    assert "REDIS_URL must look like redis://" in text
    assert "DEDUP_WINDOW_SECONDS must be a whole number" in text
    assert "FCM_ENDPOINT must be an http(s) URL" in text


@pytest.mark.parametrize("env,message", [
    ({"DELIVERY_LEASE_SECONDS": "5"}, "DELIVERY_LEASE_SECONDS must be between"),
    ({"DELIVERY_LEASE_SECONDS": "20"}, "slow delivery could outlive its lease"),
    ({"NO_TARGET_WINDOW_SECONDS": "90000"}, "must not exceed DEDUP_WINDOW_SECONDS"),
    ({"FCM_TIMEOUT_SECONDS": "0"}, "FCM_TIMEOUT_SECONDS must be between 1 and 60"),
    ({"REDIS_CA_CERT": "/nonexistent/ca.pem"}, "REDIS_CA_CERT names no readable file"),
    ({"MAX_EVENT_AGE_SECONDS": "-1"}, "MAX_EVENT_AGE_SECONDS must be between"),
])
def test_malformed_values_are_named(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({**BASE, **env})


def test_ca_cert_needs_tls(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(config.ConfigError, match="not rediss://"):
        config.load({**BASE, "REDIS_CA_CERT": str(ca)})
    cfg = config.load({**BASE, "REDIS_URL": "rediss://10.0.0.3:6378/0", "REDIS_CA_CERT": str(ca)})
    assert cfg.redis_ca_cert == str(ca)


def test_cleanup_function_needs_no_redis():
    assert config.load({"GOOGLE_CLOUD_PROJECT": "demo-p"}, need_redis=False).redis_url is None
    with pytest.raises(config.ConfigError, match="REDIS_URL is not set"):
        config.load({"GOOGLE_CLOUD_PROJECT": "demo-p"})


def test_a_misconfigured_function_fails_at_start(tmp_path):
    """functions-framework sets FUNCTION_TARGET before importing main.py: the import itself fails."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "FUNCTION_TARGET": "notify_byok_llm_error", "GOOGLE_CLOUD_PROJECT": "p"}
    proc = subprocess.run([sys.executable, "-c", "import main"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "REDIS_URL is not set" in proc.stderr
    env["FUNCTION_TARGET"] = "cleanup_invalid_fcm_tokens"
    proc = subprocess.run([sys.executable, "-c", "import main"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_features_can_be_turned_off_with_a_dash_or_empty():
    for off in ("", "-"):
        cfg = config.load({**BASE, "STATUS_COLLECTION": off, "DEEP_LINK_TEMPLATE": off})
        assert cfg.status_collection is None and cfg.deep_link_template is None
    cfg = config.load(BASE)
    assert cfg.status_collection == "byok_status" and "{provider}" in cfg.deep_link_template
    assert cfg.mark_cache_seconds == 30 and cfg.reminders is True
    assert cfg.user_key_fingerprints_field == "byok_key_fingerprints"
    assert config.load({**BASE, "USER_KEY_FINGERPRINTS_FIELD": "-"}).user_key_fingerprints_field is None


@pytest.mark.parametrize("env,message", [
    ({"USER_MUTE_FIELD": "a.b"}, "USER_MUTE_FIELD must be a Firestore field"),
    ({"USER_KEY_FINGERPRINTS_FIELD": "keys.openai"}, "USER_KEY_FINGERPRINTS_FIELD must be a Firestore field"),
    ({"DEEP_LINK_TEMPLATE": "app://keys/{uid}"}, "only placeholders are {provider} and {reason}"),
    ({"REMINDERS": "sometimes"}, "REMINDERS must be true or false"),
    ({"MARK_CACHE_SECONDS": "-5"}, "MARK_CACHE_SECONDS must be between"),
    ({"SURGE_USERS": "many"}, "SURGE_USERS must be a whole number of users"),
    ({"SURGE_USERS": "-1"}, "SURGE_USERS must be between 0 and 5000"),
    ({"SURGE_USERS": "20000"}, "SURGE_USERS must be between 0 and 5000"),
    ({"SURGE_WINDOW_SECONDS": "30"}, "SURGE_WINDOW_SECONDS must be between 60 and"),
])
def test_feature_settings_are_validated(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({**BASE, **env})


def test_a_local_fcm_endpoint_on_a_deployed_function_is_refused():
    local = {**BASE, "FCM_ENDPOINT": "http://127.0.0.1:8085"}
    assert config.load(local).fcm_endpoint == "http://127.0.0.1:8085"
    with pytest.raises(config.ConfigError, match="FCM_ENDPOINT is set on a deployed function"):
        config.load({**local, "K_SERVICE": "notify-byok-llm-error"})


def test_reach_and_rollout_settings_default_to_todays_behaviour():
    cfg = config.load(BASE)
    assert (cfg.push_link_field, cfg.email_mode, cfg.email_collection, cfg.email_source, cfg.user_email_field,
            cfg.delivery_mode) == ("deep_link", "off", "mail", "field", "email", "live")


def test_omi_settings_are_accepted():
    cfg = config.load({**BASE, "PUSH_LINK_FIELD": "navigate_to", "DEEP_LINK_TEMPLATE": "/settings",
                       "EMAIL_MODE": "Fallback", "EMAIL_SOURCE": "auth", "DELIVERY_MODE": "shadow"})
    assert cfg.push_link_field == "navigate_to" and cfg.deep_link_template == "/settings"
    assert cfg.email_mode == "fallback" and cfg.email_source == "auth" and cfg.delivery_mode == "shadow"
    assert config.load({**BASE, "DEEP_LINK_TEMPLATE": "https://app.example/keys/{provider}"}).deep_link_template


@pytest.mark.parametrize("env,message", [
    ({"EMAIL_MODE": "sometimes"}, "EMAIL_MODE must be one of off, fallback, always"),
    ({"EMAIL_SOURCE": "ldap"}, "EMAIL_SOURCE must be one of field, auth"),
    ({"DELIVERY_MODE": "dry"}, "DELIVERY_MODE must be one of live, shadow"),
    ({"PUSH_LINK_FIELD": "provider"}, "PUSH_LINK_FIELD must not be a data key"),
    ({"PUSH_LINK_FIELD": "google_link"}, "PUSH_LINK_FIELD must not be a data key"),
    ({"PUSH_LINK_FIELD": "from"}, "PUSH_LINK_FIELD must not be a data key"),
    ({"PUSH_LINK_FIELD": "navigate-to"}, "PUSH_LINK_FIELD must be a Firestore field"),
    ({"DEEP_LINK_TEMPLATE": "settings"}, "an in-app path"),
    ({"DEEP_LINK_TEMPLATE": "//evil.example/x"}, "an in-app path"),
    ({"EMAIL_COLLECTION": "__mail__"}, "Firestore reserves"),
    ({"USER_EMAIL_FIELD": "e.mail"}, "USER_EMAIL_FIELD must be a Firestore field"),
])
def test_reach_settings_are_validated(env, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load({**BASE, **env})


def test_email_lengthens_the_delivery_the_lease_must_cover():
    tight = {**BASE, "DELIVERY_LEASE_SECONDS": "40"}  # 10 + 2 x 10 + 10: enough for a push alone
    assert config.load(tight).delivery_lease_seconds == 40
    with pytest.raises(config.ConfigError, match=r"2 x FIRESTORE_TIMEOUT_SECONDS \+ 2 x FCM_TIMEOUT_SECONDS"):
        config.load({**tight, "EMAIL_MODE": "fallback"})
    with pytest.raises(config.ConfigError, match=r"\(60\)"):
        config.load({**tight, "EMAIL_MODE": "always", "EMAIL_SOURCE": "auth"})
