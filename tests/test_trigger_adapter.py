"""devstack/trigger_adapter.py: the emulator's real trigger deliveries, forwarded as production sends them.

A recording HTTP server stands where functions-framework would be, so the test sees exactly what the
adapter forwards. Runs in its own project, so no other module's writes reach it.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devstack import services
from devstack.trigger_adapter import (TriggerAdapter, decode_body, fix_source, production_headers,
                                      register_trigger)

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-byok-adapter"
EXTENSIONS = ("ce-database", "ce-namespace", "ce-document", "ce-location", "ce-project")


class Recorder:
    """An HTTP server that keeps every request it gets and answers `status`."""

    def __init__(self, status: int = 200):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = status
        self.changed = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder.changed:
                    recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    recorder.changed.notify_all()
                self.send_response(recorder.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for_document(self, document: str, count: int = 1, timeout: float = 60):
        with self.changed:
            assert self.changed.wait_for(
                lambda: len(self.for_document(document)) >= count, timeout), self.requests
            return self.for_document(document)

    def for_document(self, document: str):
        return [r for r in self.requests if r[1].get("ce-document") == document]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.stop()


@pytest.fixture(scope="module")
def db(firestore_emulator):
    from google.cloud import firestore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.address)
        client = firestore.Client(project=PROJECT)
    register_trigger(firestore_emulator.address, PROJECT, "adapter-test")
    yield client
    client.close()


# -- pure parts -----------------------------------------------------------------------------------

def test_fix_source_removes_the_doubled_projects():
    assert (fix_source("//firestore.googleapis.com/projects/projects/p1/databases/(default)")
            == "//firestore.googleapis.com/projects/p1/databases/(default)")
    ok = "//firestore.googleapis.com/projects/p1/databases/(default)"
    assert fix_source(ok) == ok
    # a project literally named "projects" keeps its name once the duplicate is gone
    assert (fix_source("//firestore.googleapis.com/projects/projects/projects/databases/(default)")
            == "//firestore.googleapis.com/projects/projects/databases/(default)")


def test_decode_body():
    raw = b"\x0a\x02\x0a\x00\xff"
    assert decode_body(base64.b64encode(raw)) == raw
    assert decode_body(base64.b64encode(raw) + b"\n") == raw
    assert decode_body(b"") == b""
    assert decode_body(raw) == raw  # already binary: passed through


def test_production_headers_keep_ce_headers_only():
    headers = production_headers({
        "ce-id": "1", "ce-source": "//firestore.googleapis.com/projects/projects/p/databases/(default)",
        "ce-document": "users/u/fcm_tokens/d", "Content-Type": "text/plain", "User-Agent": "Java",
        "Content-Length": "9"})
    assert headers == {"ce-id": "1", "ce-source": "//firestore.googleapis.com/projects/p/databases/(default)",
                       "ce-document": "users/u/fcm_tokens/d", "content-type": "application/protobuf"}


# -- the real emulator --------------------------------------------------------------------------

def test_emulator_delivery_is_forwarded_as_production_sends_it(db, recorder, trigger_port):
    from google.events.cloud.firestore import DocumentEventData

    adapter = TriggerAdapter(recorder.url, port=trigger_port).start()
    try:
        path = f"users/u-{uuid.uuid4().hex[:8]}/fcm_tokens/phone"
        db.document(path).set({"token": "tok-1"})
        db.document(path).update({"invalid": True, "invalid_token": "tok-1"})
        created, updated = recorder.wait_for_document(path, 2)
    finally:
        adapter.stop()
    for _path, headers, body in (created, updated):
        assert headers["content-type"] == "application/protobuf"
        assert headers["ce-source"] == f"//firestore.googleapis.com/projects/{PROJECT}/databases/(default)"
        assert headers["ce-type"] == "google.cloud.firestore.document.v1.written"
        assert headers["ce-subject"] == f"documents/{path}"
        assert headers["ce-specversion"] == "1.0" and headers["ce-id"]
        assert {h: headers[h] for h in EXTENSIONS} == {
            "ce-database": "(default)", "ce-namespace": "(default)", "ce-document": path,
            "ce-location": headers["ce-location"], "ce-project": PROJECT}
    event = DocumentEventData.deserialize(updated[2])  # raw protobuf bytes, not base64 text
    assert event.value.name == f"projects/{PROJECT}/databases/(default)/documents/{path}"
    assert event.value.fields["invalid"].boolean_value is True
    assert event.old_value.fields["token"].string_value == "tok-1"
    assert event.value.update_time == db.document(path).get().update_time
    assert [d.document for d in adapter.deliveries] == [path, path]
    assert [d.status for d in adapter.deliveries] == [200, 200]
    assert [d.event_id for d in adapter.deliveries] == [created[1]["ce-id"], updated[1]["ce-id"]]


def test_held_deliveries_are_forwarded_on_release(db, recorder, trigger_port):
    adapter = TriggerAdapter(recorder.url, port=trigger_port).start()
    try:
        adapter.hold()
        path = f"users/u-{uuid.uuid4().hex[:8]}/fcm_tokens/tablet"
        db.document(path).set({"token": "tok-2"})
        db.document(path).set({"token": "tok-3"})
        assert db.document(path).get().get("token") == "tok-3"  # writes do not wait for the trigger
        assert recorder.for_document(path) == []
        adapter.release()
        recorder.wait_for_document(path, 2)
    finally:
        adapter.stop()


def test_function_down_answers_502():
    target = f"http://127.0.0.1:{services.free_port()}/"  # nothing listens there
    adapter = TriggerAdapter(target).start()
    try:
        req = urllib.request.Request(
            f"http://127.0.0.1:{adapter.port}/functions/projects/p/triggers/t", method="POST",
            data=base64.b64encode(b"\x12\x00"), headers={"ce-id": "x", "ce-document": "users/u/fcm_tokens/d"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 502
        assert [(d.project, d.trigger, d.status) for d in adapter.deliveries] == [("p", "t", 502)]

        req = urllib.request.Request(f"http://127.0.0.1:{adapter.port}/elsewhere", method="POST", data=b"")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert err.value.code == 404
    finally:
        adapter.stop()


def test_command_line_registers_and_forwards(firestore_emulator, recorder, trigger_port, tmp_path):
    """`python -m devstack.trigger_adapter`, as the local stack runs it, with its own project."""
    from google.cloud import firestore

    project = "demo-byok-adapter-cli"
    log = open(tmp_path / "adapter.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.trigger_adapter", "--port", str(trigger_port), "--target",
         recorder.url, "--emulator", firestore_emulator.address, "--project", project],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    try:
        deadline = time.monotonic() + 60
        while b"registered" not in (tmp_path / "adapter.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "adapter.log").read_text()
            time.sleep(0.1)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.address)
            client = firestore.Client(project=project)
        path = "users/cli/fcm_tokens/watch"
        client.document(path).set({"token": "tok-cli"})
        ((_, headers, _body),) = recorder.wait_for_document(path)
        assert headers["ce-project"] == project
        client.close()
    finally:
        proc.terminate()
        proc.wait(15)
