"""firestore.rules on a Firestore emulator started with `--rules`: who may read the in-app status.

Requests go over the emulator's REST API as a client SDK sends them. `Bearer owner` is the server
(bypasses rules, as firebase-admin does); a signed-in user is an unsigned ID token (`alg: none`, the
project as `aud`, the uid as `sub` and `user_id`), which is how Firebase's rules-unit-testing library
signs users in against the emulator; no token is an unauthenticated client.
"""
from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request

import pytest

from devstack import services
from tests.conftest import ROOT

PROJECT = "demo-byok-rules"
DOCS = f"/v1/projects/{PROJECT}/databases/(default)/documents"


def id_token(uid: str) -> str:
    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "auth_time": now,
              "user_id": uid, "sub": uid, "iat": now, "exp": now + 3600,
              "firebase": {"sign_in_provider": "password", "identities": {}}}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.fixture(scope="module")
def emulator(log_dir):
    svc = services.start_firestore_emulator(log_dir=log_dir, rules=ROOT / "firestore.rules")
    yield svc
    svc.stop()


class Client:
    def __init__(self, emulator, bearer: str | None) -> None:
        self.base = f"http://{emulator.address}"
        self.bearer = bearer

    def call(self, method: str, path: str, body: dict | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.bearer}"
        req = urllib.request.Request(self.base + DOCS + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def get(self, path: str) -> int:
        return self.call("GET", path)

    def write(self, path: str) -> int:
        return self.call("PATCH", path, {"fields": {"reason": {"stringValue": "invalid_key"}}})


STATUS = "/users/alice/byok_status/openai"


@pytest.fixture(scope="module")
def seeded(emulator):
    server = Client(emulator, "owner")
    assert server.write(STATUS) == 200
    assert server.write("/users/bob/byok_status/openai") == 200
    assert server.write("/mail/m1") == 200
    return emulator


def test_the_server_sdk_is_not_bound_by_the_rules(seeded):
    server = Client(seeded, "owner")
    assert server.get(STATUS) == 200 and server.get("/mail/m1") == 200


def test_the_owner_reads_their_own_status_and_lists_it(seeded):
    alice = Client(seeded, id_token("alice"))
    assert alice.get(STATUS) == 200
    assert alice.get("/users/alice/byok_status") == 200  # the banner lists every provider at once


def test_the_owner_may_not_write_their_status(seeded):
    alice = Client(seeded, id_token("alice"))
    assert alice.write(STATUS) == 403
    assert alice.write("/users/alice/byok_status/anthropic") == 403
    assert alice.call("DELETE", STATUS) == 403


def test_another_user_reads_nothing_of_it(seeded):
    bob = Client(seeded, id_token("bob"))
    assert bob.get("/users/bob/byok_status/openai") == 200  # their own, to show the token works
    assert bob.get(STATUS) == 403
    assert bob.get("/users/alice/byok_status") == 403
    assert bob.write(STATUS) == 403


def test_an_unauthenticated_client_reads_nothing(seeded):
    anonymous = Client(seeded, None)
    assert anonymous.get(STATUS) == 403
    assert anonymous.get("/users/alice/byok_status") == 403
    assert anonymous.write(STATUS) == 403


def test_the_mail_collection_is_closed_to_every_client(seeded):
    for client in (Client(seeded, id_token("alice")), Client(seeded, None)):
        assert client.get("/mail/m1") == 403
        assert client.get("/mail") == 403
        assert client.write("/mail/m2") == 403
