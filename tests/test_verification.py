"""The notifier's side of a probe: the contract's `verification`, and how it bends the reason."""
from __future__ import annotations

import json

import pytest

from functions import verification
from functions.contract import verification_problem
from functions.event import parse_event
from tests.helpers import INVALID_KEY_ERROR, QUOTA_ERROR, event, pubsub_data
from tests.reporting import validate

REASONS = [None, "invalid_key", "permission_denied", "quota_exhausted"]


def checked(verdict: str, status: int | None = 200) -> dict:
    return {"probe": "GET /v1/models", "status": status, "verdict": verdict, "checked_at": "2026-12-01T20:00:00Z"}


@pytest.mark.parametrize("reason", REASONS)
def test_key_rejected_is_invalid_key_whatever_the_text_said(reason):
    assert verification.apply(reason, checked("key_rejected", 401)) == ("invalid_key", "verification:key_rejected")


@pytest.mark.parametrize("reason", REASONS)
def test_no_credit_is_quota_exhausted(reason):
    assert verification.apply(reason, checked("no_credit")) == ("quota_exhausted", "verification:no_credit")


@pytest.mark.parametrize("reason, expected", [
    (None, (None, "classifier")), ("invalid_key", (None, "verification:key_works")),
    ("permission_denied", ("permission_denied", "classifier")),      # a working key may lack a model
    ("quota_exhausted", ("quota_exhausted", "classifier")),          # ...or credit
])
def test_key_works_is_never_invalid_key(reason, expected):
    assert verification.apply(reason, checked("key_works")) == expected


@pytest.mark.parametrize("reason, expected", [
    (None, (None, "classifier")), ("invalid_key", (None, "verification:has_credit")),
    ("permission_denied", ("permission_denied", "classifier")),
    ("quota_exhausted", (None, "verification:has_credit")),
])
def test_has_credit_is_never_quota_exhausted_nor_invalid_key(reason, expected):
    assert verification.apply(reason, checked("has_credit")) == expected


@pytest.mark.parametrize("reason", REASONS)
def test_a_mangled_key_is_never_the_users(reason):
    """Whatever the provider answered a quoted key, `undefined` or a list's repr, it answered that value."""
    mangled = {"probe": "LOCAL /key/quoted", "status": None, "verdict": "key_malformed",
               "checked_at": "2026-12-01T20:00:00Z"}
    assert verification.apply(reason, mangled) == (None, "verification:key_malformed")


@pytest.mark.parametrize("reason", REASONS)
def test_a_key_sent_to_another_providers_host_is_never_the_users_there(reason):
    """What api.openai.com answered a key meant for Azure is about a key sent to the wrong party; whether the two
    providers take one key at all is the notifier's check (providers.Registry.separate), made before this."""
    for form in ("host", "base"):    # `base`: the call missed the base URL the app set up as well
        elsewhere = {"probe": f"LOCAL /{form}/openai", "status": None, "verdict": "key_misdirected",
                     "checked_at": "2026-12-01T20:00:00Z"}
        assert verification_problem(elsewhere) is None
        validate(event("u1", verification=elsewhere))
        assert verification.apply(reason, elsewhere) == (None, "verification:key_misdirected")


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("value", [None, checked("unknown", None), {"verdict": 3}, "key_rejected"])
def test_unknown_absent_or_odd_changes_nothing(reason, value):
    assert verification.apply(reason, value) == (reason, "classifier")


def test_a_valid_verification_is_in_the_schema_and_the_event():
    doc = event("u1", verification=checked("key_rejected", 401))
    validate(doc)
    parsed = parse_event("e1", json.dumps(doc).encode())
    assert parsed.verification == checked("key_rejected", 401) and parsed.verification_problem is None


MALFORMED = [
    [], {"probe": "GET /v1/models", "verdict": "maybe", "checked_at": "2026-12-01T20:00:00Z"},
    {**checked("key_works"), "body": {"secret": "x"}}, {**checked("key_works"), "status": "200"},
    {**checked("key_works"), "checked_at": "yesterday"}, {**checked("key_works"), "checked_at": "2026-12-01T20:00:00"},
    {**checked("key_works"), "probe": "GET https://evil.example/v1/models"}, {**checked("key_works"), "status": 99},
    {**checked("key_malformed"), "probe": "LOCAL /etc/passwd"}, {**checked("key_works"), "probe": "LOCAL /key/Quoted"},
    {**checked("key_misdirected"), "probe": "LOCAL /host/api.openai.com"},
    {**checked("key_misdirected"), "probe": "LOCAL /host/" + "x" * 41},
    {**checked("key_misdirected"), "probe": "LOCAL /base/https://relay.example.com"},
    {**checked("key_misdirected"), "probe": "LOCAL /url/openai"},
]


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_verification_is_ignored_not_poison(value):
    """The error is still worth classifying: the event stands, the verification is dropped and named."""
    assert verification_problem(value)
    doc = event("u1", verification=value)
    parsed = parse_event("e1", json.dumps(doc).encode())
    assert parsed.verification is None and parsed.verification_problem == verification_problem(value)
    from jsonschema import ValidationError

    with pytest.raises(ValidationError):                 # what a producer must not send
        validate(doc)


def test_the_notifier_logs_what_decided_and_a_dropped_verification(world_env, uid, capsys):
    from functions import notify
    from tests.helpers import log_lines

    world_env.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    forbidden = {"status_code": 403, "type": "PermissionDeniedError", "message": "Forbidden"}
    outcomes = [
        notify.handle_pubsub_event("v1", pubsub_data(event(uid, error=forbidden,
                                                           verification=checked("key_rejected", 401)), "v1")),
        notify.handle_pubsub_event("v2", pubsub_data(event(uid, "anthropic", error=INVALID_KEY_ERROR,
                                                           verification=checked("key_works")), "v2")),
        notify.handle_pubsub_event("v3", pubsub_data(event(uid, error=QUOTA_ERROR,
                                                           verification={"verdict": "key_rejected"}), "v3")),
    ]
    assert outcomes == ["sent", "not_actionable", "sent"]
    lines = [line for line in log_lines(capsys.readouterr().out) if "outcome" in line]
    assert [(line["provider"], line.get("reason"), line["decided_by"]) for line in lines] == [
        ("openai", "invalid_key", "verification:key_rejected"), ("anthropic", None, "verification:key_works"),
        ("openai", "quota_exhausted", "classifier")]
    assert lines[2]["verification_problem"].startswith("verification.")
    assert "verification_problem" not in lines[0]


@pytest.fixture
def world_env(env, redis_db, firestore_db, fcm):
    return firestore_db
