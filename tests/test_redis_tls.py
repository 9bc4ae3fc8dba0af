"""Memorystore's secure setup, for real: a redis-server with TLS (in-transit encryption) and AUTH.

The notifier connects with `rediss://`, the server CA from REDIS_CA_CERT and the AUTH string from
REDIS_PASSWORD. A wrong CA or password must mean "retry later", never a push without dedup.
"""
from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest

from devstack import services
from functions import clients, config, notify
from tests.helpers import event, pubsub_data

PASSWORD = "auth-string-" + uuid.uuid4().hex

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is needed to make test certificates")


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca_and_server_cert(directory) -> None:
    """A throw-away CA and a server certificate for 127.0.0.1, like Memorystore's server CA."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=byok-test-ca", cwd=directory)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=directory)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other-ca.pem",
             "-days", "2", "-subj", "/CN=some-other-ca", cwd=directory)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    import redis

    directory = tmp_path_factory.mktemp("redis-tls")
    make_ca_and_server_cert(directory)
    port = services.free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--bind", services.HOST, "--tls-port", str(port),
         "--tls-cert-file", "server.pem", "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem",
         "--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "", "--appendonly", "no"],
        cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"rediss://{services.HOST}:{port}/0"
    client = redis.Redis.from_url(url, password=PASSWORD, ssl_ca_certs=str(directory / "ca.pem"))
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip("this redis-server was built without TLS support")
            time.sleep(0.1)
    yield url, directory, client
    client.close()
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def tls_env(tls_redis, env, firestore_db, fcm, monkeypatch):
    url, directory, client = tls_redis
    client.flushdb()
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("REDIS_CA_CERT", str(directory / "ca.pem"))
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    config.reset()
    clients.reset()
    yield directory, client, firestore_db, fcm
    config.reset()
    clients.reset()


def handle(uid: str) -> str:
    event_id = uuid.uuid4().hex
    return notify.handle_pubsub_event(event_id, pubsub_data(event(uid), event_id))


def test_notifier_dedups_over_tls_with_auth(tls_env, uid):
    _directory, client, db, fcm = tls_env
    db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    assert handle(uid) == "sent"
    assert handle(uid) == "suppressed"
    assert len(fcm.delivered()) == 1
    assert any(key.startswith(b"byok:") for key in client.keys("*"))


@pytest.mark.parametrize("problem", ["wrong_ca", "wrong_password"])
def test_untrusted_or_unauthenticated_redis_means_retry_never_an_unguarded_push(tls_env, uid, monkeypatch, problem):
    directory, _client, db, fcm = tls_env
    db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    if problem == "wrong_ca":
        monkeypatch.setenv("REDIS_CA_CERT", str(directory / "other-ca.pem"))
    else:
        monkeypatch.setenv("REDIS_PASSWORD", "not-the-auth-string")
    config.reset()
    clients.reset()
    with pytest.raises(notify.RetryLater):
        handle(uid)
    assert fcm.state.requests == 0
