"""What each FCM answer means, with firebase-admin talking to the local FCM HTTP v1 server."""
from __future__ import annotations

import pytest
from firebase_admin import exceptions as fx

from functions import clients
from functions.channels import push
from functions.tokens import Target


def send(targets):
    return push.send(clients.firebase_app(), targets, "title", "body", {"k": "v"}, "collapse")


@pytest.mark.parametrize("token,status,code", [
    ("tok-1", "accepted", None),
    ("dead-1", "dead", "UNREGISTERED"),
    ("mismatch-1", "dead", "SENDER_ID_MISMATCH"),
    ("bad-1", "dead", "INVALID_ARGUMENT"),
    ("quota-1", "transient", "QUOTA_EXCEEDED"),
    ("apns-1", "config", "THIRD_PARTY_AUTH_ERROR"),
    ("internal-1", "transient", "INTERNAL"),
])
def test_each_fcm_answer_is_classified_by_exception_class(env, fcm, token, status, code):
    assert [(d.status, d.code) for d in send([Target(token, "token")])] == [(status, code)]


def test_fid_targets_are_sent_as_fid(env, fcm):
    assert send([Target("fid-1", "fid")])[0].status == "accepted"
    message = fcm.delivered()[0]["message"]
    assert message["fid"] == "fid-1" and "token" not in message


def test_a_hanging_fcm_times_out_as_transient(env, fcm, monkeypatch):
    from functions import config

    monkeypatch.setenv("FCM_TIMEOUT_SECONDS", "1")
    config.reset()
    clients.reset()
    fcm.state.hang_seconds = 5
    assert send([Target("hang-1", "token")])[0].status == "transient"


def test_other_invalid_argument_is_our_payload_bug_not_a_dead_token():
    assert push.failure_kind(fx.InvalidArgumentError("Invalid value at 'message.data'")) == ("config", "INVALID_ARGUMENT")
    assert push.failure_kind(fx.InvalidArgumentError(
        "The registration token is not a valid FCM registration token")) == ("dead", "INVALID_ARGUMENT")
    assert push.failure_kind(RuntimeError("socket closed")) == ("transient", "RuntimeError")


def test_more_than_500_targets_go_in_batches(env, fcm):
    result = send([Target(f"tok-{i}", "token") for i in range(501)])
    assert len(result) == 501 and all(d.status == "accepted" for d in result)
    assert len(fcm.delivered()) == 501
