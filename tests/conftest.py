"""Shared fixtures: the real services, started once per test session on free loopback ports.

Redis is a throw-away redis-server of our own (not the machine's 6379), the Firestore and Pub/Sub
emulators are the official ones from the gcloud SDK, and FCM is the project's own HTTP v1 server
(devstack/fcm_server.py). Module-level tests get clean state through the function-scoped fixtures
(`redis_db`, `firestore_db`, `fcm`).

A run leaves nothing behind: TMPDIR points at one fresh directory per session (pytest's own tmp_path
directories land there too), and at the end the session looks for processes still alive in the
process groups devstack/services.py started or pointing into that directory (devstack/leftovers.py).
Any found are killed and the run fails, naming them.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "reporter"))     # byok_reporter, the backend's library, from source

from devstack import leftovers, services  # noqa: E402
from devstack.fcm_server import FcmServer  # noqa: E402

PROJECT = "demo-byok-test"
SESSION_TMP: Path | None = None


def pytest_configure(config) -> None:
    """One temporary root per run, for every mkdtemp of the tests and of the processes they start."""
    global SESSION_TMP
    if SESSION_TMP is None:
        SESSION_TMP = Path(tempfile.mkdtemp(prefix="byok-test-run-")).resolve()
        tempfile.tempdir = str(SESSION_TMP)
        os.environ["TMPDIR"] = str(SESSION_TMP)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Fail the run if a process it started is still running (after ending it)."""
    found = leftovers.find(groups=[svc.proc.pid for svc in services.STARTED],
                           roots=[SESSION_TMP] if SESSION_TMP else [])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        leftovers.kill(found)
        lines = ["processes started by this test run were still running at its end (now killed):"]
        lines += [f"  {item}" for item in found]
        if reporter is not None:
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line, red=True, bold=line == lines[0])
        else:
            print("\n".join(lines), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif SESSION_TMP is not None and exitstatus == 0:
        shutil.rmtree(SESSION_TMP, ignore_errors=True)  # a failed run keeps its logs for reading


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def redis_server(log_dir):
    svc = services.start_redis(log_dir=log_dir)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def trigger_port() -> int:
    """Where the Firestore emulator delivers trigger events (the trigger adapter listens there)."""
    return services.free_port()


@pytest.fixture(scope="session")
def firestore_emulator(log_dir, trigger_port):
    svc = services.start_firestore_emulator(log_dir=log_dir,
                                            functions_emulator=f"{services.HOST}:{trigger_port}")
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(log_dir):
    svc = services.start_pubsub_emulator(log_dir=log_dir)
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def fcm_server():
    server = FcmServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service_env(redis_server, firestore_emulator, fcm_server) -> dict[str, str]:
    """The environment a notifier process needs to run against the local services."""
    return {
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "REDIS_URL": f"redis://{redis_server.address}/0",
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.address,
        "FCM_ENDPOINT": fcm_server.url,
    }


@pytest.fixture
def env(service_env, monkeypatch):
    """Point this process at the local services, with fresh config and clients."""
    from functions import clients, config, dedup

    dedup.MARKS.clear()
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)
    for name in ("DEDUP_WINDOW_SECONDS", "DELIVERY_LEASE_SECONDS", "NO_TARGET_WINDOW_SECONDS",
                 "MAX_EVENT_AGE_SECONDS", "REDIS_CA_CERT", "REDIS_PASSWORD", "MARK_CACHE_SECONDS",
                 "STATUS_FLUSH_SECONDS", "STATUS_COLLECTION", "REMINDERS", "DEEP_LINK_TEMPLATE",
                 "USER_LANGUAGE_FIELD", "USER_MUTE_FIELD", "FCM_TIMEOUT_SECONDS", "FIRESTORE_TIMEOUT_SECONDS",
                 "PUSH_LINK_FIELD", "EMAIL_MODE", "EMAIL_COLLECTION", "EMAIL_SOURCE", "USER_EMAIL_FIELD",
                 "DELIVERY_MODE", "FIREBASE_AUTH_EMULATOR_HOST", "SURGE_USERS", "SURGE_WINDOW_SECONDS",
                 "USER_KEY_FINGERPRINTS_FIELD"):
        monkeypatch.delenv(name, raising=False)
    config.reset()
    clients.reset()
    yield service_env
    config.reset()
    clients.reset()
    dedup.MARKS.clear()


@pytest.fixture
def redis_db(env):
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def firestore_db(env, firestore_emulator):
    from google.cloud import firestore

    services.clear_firestore(firestore_emulator.address, PROJECT)
    client = firestore.Client(project=PROJECT)
    yield client
    client.close()


@pytest.fixture
def fcm(fcm_server):
    fcm_server.state.reset()
    yield fcm_server
    fcm_server.state.reset()


@pytest.fixture
def uid() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"
