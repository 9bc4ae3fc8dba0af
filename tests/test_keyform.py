"""The reporter's local check of the key's form (byok_reporter.keyform): what a component did to a key."""
from __future__ import annotations

import pytest

from byok_reporter.contract import verification_problem
from byok_reporter.keyform import malformed, verification
from tests.test_probes import KEYS

REAL_SHAPES = KEYS + [
    "sk-proj-abc123", "sk-ant-api03-xyz", "AIzaSyFAKEfakeFAKEfakeFAKEfakeFAKEfak", "gsk_0123456789abcdef",
    "xai-abcdef0123", "r8_abc", "hf_abcdefghij", "nvapi-abc-def", "sk-or-v1-00ff", "3c9f1a7e5b2d4c8e9a0b1c2d3e4f5a6b",
    "ABSKQmVkcm9ja0FQSUtleQ==", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "0123abcd.efgh4567",  # JWTs, Zhipu id.secret
    "sk-xxx", "my key", "sk-abc ", " sk-abc", "sk-abc\n",     # a user's junk or stray whitespace is not ours to judge
    "nullable-key-123", "Bearer-token-like", "tokenized", "'",   # prefixes of the forms, not the forms
    "{sk-proj-abc123}", "[sk-abc]", "(sk-abc", "{sk-abc",        # a placeholder's brackets typed around a key: the user's
]


@pytest.mark.parametrize("key", REAL_SHAPES)
def test_anything_that_may_be_a_key_is_left_to_the_provider(key):
    assert malformed(key) is None


@pytest.mark.parametrize("key, form", [
    ("", "blank"), ("   ", "blank"), ("\n", "blank"), ("sk-abc\x1b[2~def", "control_chars"), ("sk-\x00abc", "control_chars"),
    ('"sk-proj-abc123"', "quoted"), ("'sk-ant-api03-xyz'", "quoted"), ("`AIzaSyFAKE`", "quoted"),
    (' "sk-abc" ', "quoted"), ('""', "quoted"),
    ("undefined", "non_value"), ("null", "non_value"), ("None", "non_value"), ("nil", "non_value"),
    ("NaN", "non_value"), ("False", "non_value"), ("[object Object]", "non_value"),
    ("EMPTY", "local_server_key"), ("sk-no-key-required", "local_server_key"), ("not-needed", "local_server_key"),
    ("lm-studio", "local_server_key"), ("ollama", "local_server_key"),
    ("[False, True]", "serialized"), ("['sk-abc']", "serialized"), ('{"api_key": "sk-abc"}', "serialized"),
    ("('sk-abc',)", "serialized"), ("[]", "serialized"), ("{}", "serialized"), ("[None, None]", "serialized"),
    ("Bearer sk-abc", "auth_scheme"), ("bearer sk-abc", "auth_scheme"), ("Token 8a1f77c1", "auth_scheme"),
    ("Basic dXNlcjpwYXNz", "auth_scheme"), ("x-api-key: sk-ant-abc", "auth_scheme"),
])
def test_a_mangled_key_is_named_by_its_form(key, form):
    assert malformed(key) == form


@pytest.mark.parametrize("form", ["blank", "control_chars", "quoted", "non_value", "local_server_key", "serialized",
                                  "auth_scheme"])
def test_its_verification_is_valid_in_the_contract_and_the_schema(form):
    from tests.helpers import event
    from tests.reporting import validate

    assert verification_problem(verification(form)) is None
    validate(event("u1", verification=verification(form)))


def test_its_verification_names_no_key():
    value = verification("quoted")
    assert value["probe"] == "LOCAL /key/quoted" and value["status"] is None and value["verdict"] == "key_malformed"


@pytest.mark.parametrize("value, form", [
    *[(v, "non_value") for v in ("undefined", "null", "None", "nil", "NaN", "true", "False", "[object Object]")],
    *[(v, "local_server_key") for v in ("EMPTY", "sk-no-key-required", "not-needed", "lm-studio", "ollama")],
])
def test_a_placeholder_is_no_key_to_the_reporter_and_to_the_classifier(value, form):
    """One list for both (contract.NON_VALUES, and LOCAL_SERVER_KEYS: the values vLLM, llama.cpp, LM Studio and Ollama
    document as the key to send when none is needed): the reporter sees the placeholder in the key it holds, the
    notifier in the provider's echo of the key it got; either way no user's key failed."""
    from byok_reporter.contract import LOCAL_SERVER_KEYS, NON_VALUES
    from functions.classify import explain

    assert value.lower() in NON_VALUES + LOCAL_SERVER_KEYS and malformed(value) == form
    assert malformed(value + "-x") is None
    echo = {"status_code": 401, "code": "invalid_api_key",
            "message": f"Incorrect API key provided: {value}. You can find your API key at "
                       "https://platform.openai.com/account/api-keys."}
    assert explain("openai", echo).rule == "guard.no_key_sent"
    assert explain("openai", dict(echo, message=echo["message"].replace(value, "sk-abc1"))).reason == "invalid_key"


def test_a_masked_echo_of_a_no_key_value_is_read_as_one():
    """OpenAI masks the key it echoes to its first eight characters and last four: the ends of a long no-key value
    (llama.cpp's sk-no-key-required) still name it, so the classifier reads it without the reporter's key-form check
    (the twenty-third set's line 98); a real key's masked echo, or other ends, stay the key's."""
    from functions.classify import explain

    echo = {"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided: sk-no-ke******ired."}
    assert explain("openai", echo).rule == "guard.no_key_sent"
    for other in ("sk-proj-************************ired", "sk-no-ke******abcd", "sk-no-keired"):
        assert explain("openai", dict(echo, message=f"Incorrect API key provided: {other}.")).reason == "invalid_key"
