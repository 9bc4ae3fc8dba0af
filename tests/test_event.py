"""Event contract v1: the parser accepts what the JSON Schema accepts and rejects the rest."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.event import InvalidEvent, parse_event, unwrap_pubsub, valid_uid
from tests.helpers import event, pubsub_data

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schemas/byok-error-event.v1.json").read_text())


def test_a_full_event_parses():
    doc = event("u1", key_fingerprint="hmac-sha256:ab12", feature="chat", model="gpt-4o", operation="chat")
    parsed = parse_event("e1", json.dumps(doc).encode())
    assert (parsed.uid, parsed.provider, parsed.key_fingerprint, parsed.model) == ("u1", "openai", "hmac-sha256:ab12",
                                                                                   "gpt-4o")
    assert parsed.occurred_at.tzinfo is not None


def test_unwrap_reads_data_publish_time_and_attributes():
    data = pubsub_data(event("u1"), "m1")
    data["message"]["attributes"] = {"provider": "openai"}
    raw, publish_time, attributes = unwrap_pubsub(data)
    assert json.loads(raw)["uid"] == "u1" and publish_time and attributes == {"provider": "openai"}
    assert unwrap_pubsub(json.dumps(data).encode())[0] == raw  # bytes body, as a raw push delivers it


@pytest.mark.parametrize("uid,ok", [("abc", True), ("a" * 128, True), ("a" * 129, False), ("a/b", False),
                                    (".", False), ("..", False), ("__x__", False), ("_x_", True),
                                    ("../x", False), ("", False), ("a\x00b", False), ("名前", True)])
def test_uid_rules(uid, ok):
    assert valid_uid(uid) is ok


def test_schema_and_parser_agree_on_examples():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = [event("u1"), event("u2", key_fingerprint=None, model=None), {**event("u3"), "extra": 1},
            {**event("u4"), "error": {"status_code": 1008, "message": "API key not valid."}}]  # a WebSocket close
    bad = [{**event("u"), "version": 2}, {**event("u"), "uid": "a/b"}, {**event("u"), "provider": "Open AI"},
           {**event("u"), "error": []}, {**event("u"), "error": {"status_code": "500"}}, {**event("u"), "uid": ".."},
           {**event("u"), "uid": "__x__"}, {**event("u"), "error": {"status_code": 5000}}]
    for doc in good:
        assert validator.is_valid(doc)
        parse_event("e", json.dumps(doc).encode())
    for doc in bad:
        assert not validator.is_valid(doc)
        with pytest.raises(InvalidEvent):
            parse_event("e", json.dumps(doc).encode())


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "uid", "provider", "error", "occurred_at", "key_fingerprint",
                                        "model", "kind"]), json_values))
def test_no_object_crashes_the_parser(doc):
    try:
        parse_event("e", json.dumps(doc).encode())
    except InvalidEvent:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_no_bytes_crash_the_parser(raw):
    try:
        parse_event("e", raw)
    except InvalidEvent:
        pass


def test_problem_text_never_echoes_values():
    secret = "sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX"
    for doc in ({**event("u"), "uid": secret + "/x"}, {**event("u"), "provider": secret},
                {**event("u"), "occurred_at": secret}, {**event("u"), "key_fingerprint": secret + " "}):
        with pytest.raises(InvalidEvent) as info:
            parse_event("e", json.dumps(doc).encode())
        assert secret not in str(info.value)
