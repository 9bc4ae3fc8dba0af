"""`python -m functions sweep`: finds marked token documents a lost trigger left behind, against the emulator.

Runs in its own project (no trigger registered there), cleared before each test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import services

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "demo-byok-sweep"


@pytest.fixture
def db(firestore_emulator, monkeypatch):
    from google.cloud import firestore

    from functions import clients, config

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.address)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    config.reset()
    clients.reset()
    services.clear_firestore(firestore_emulator.address, PROJECT)
    client = firestore.Client(project=PROJECT)
    yield client
    client.close()
    config.reset()
    clients.reset()


def marked(token_field: str, value: str, invalid_token: str | None = None) -> dict:
    from google.cloud import firestore

    return {token_field: value, "invalid": True, "invalid_token": invalid_token or value,
            "invalid_reason": "UNREGISTERED", "invalid_at": firestore.SERVER_TIMESTAMP}


@pytest.fixture
def population(db):
    """Five marked documents (three pages of two), one live one; returns {path: expected outcome}."""
    docs = {
        "users/alice/fcm_tokens/a-dead": (marked("token", "tok-a"), "deleted"),
        "users/alice/fcm_tokens/b-fid": (marked("fid", "fid-b"), "deleted"),
        "users/alice/fcm_tokens/c-rereg": (marked("token", "tok-new", invalid_token="tok-old"),
                                           "kept_reregistered"),
        "users/bob/fcm_tokens/d-dead": (marked("token", "tok-d"), "deleted"),
        "archive/x/fcm_tokens/e-elsewhere": (marked("token", "tok-e"), "ignored"),  # not users/*
        "users/bob/fcm_tokens/f-live": ({"token": "tok-f"}, None),  # not marked: never listed
    }
    for path, (data, _) in docs.items():
        db.document(path).set(data)
    return {path: outcome for path, (_, outcome) in docs.items()}


def run_cli(firestore_emulator, *args: str) -> tuple[int, list[dict], str]:
    env = {**os.environ, "FIRESTORE_EMULATOR_HOST": firestore_emulator.address,
           "GOOGLE_CLOUD_PROJECT": "demo-not-this-one"}
    env.pop("REDIS_URL", None)
    out = subprocess.run([sys.executable, "-m", "functions", "sweep", "--project", PROJECT, *args],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()], out.stderr


def existing(db, paths) -> set[str]:
    return {p for p in paths if db.document(p).get().exists}


def test_dry_run_reports_and_deletes_nothing(db, firestore_emulator, population):
    code, lines, err = run_cli(firestore_emulator, "--dry-run", "--batch-size", "2")
    assert code == 0, err
    *docs, summary = lines
    expected = {p: ("would_delete" if o == "deleted" else o) for p, o in population.items() if o}
    assert {d["document"]: d["outcome"] for d in docs} == expected
    assert summary == {"summary": True, "project": PROJECT, "dry_run": True, "scanned": 5, "deleted": 0,
                       "would_delete": 3, "kept_reregistered": 1, "ignored": 1, "pages": 3}
    assert existing(db, population) == set(population)
    assert not any(tok in json.dumps(lines) for tok in ("tok-", "fid-"))  # never a token in the output


def test_sweep_deletes_only_dead_documents_and_is_idempotent(db, firestore_emulator, population):
    code, lines, err = run_cli(firestore_emulator, "--batch-size", "2")
    assert code == 0, err
    *docs, summary = lines
    assert {d["document"]: d["outcome"] for d in docs} == {p: o for p, o in population.items() if o}
    assert (summary["deleted"], summary["kept_reregistered"], summary["ignored"]) == (3, 1, 1)
    assert existing(db, population) == {p for p, o in population.items() if o != "deleted"}
    assert db.document("users/alice/fcm_tokens/c-rereg").get().get("token") == "tok-new"

    code, lines, _ = run_cli(firestore_emulator)
    assert code == 0 and lines[-1]["deleted"] == 0 and lines[-1]["scanned"] == 2


def test_reregistration_during_the_sweep_keeps_the_token(db):
    """A device re-registers after the sweep read its page but before the page's batch delete."""
    from functions.commands import sweep

    db.document("users/carol/fcm_tokens/a").set(marked("token", "tok-a"))
    db.document("users/carol/fcm_tokens/b").set(marked("token", "tok-b"))
    db.document("users/carol/fcm_tokens/c").set(marked("token", "tok-c2", invalid_token="tok-c"))
    lines = []

    def emit(line):
        lines.append(line)
        if line["document"].endswith("/c"):  # emitted before the page's deletes are committed
            db.document("users/carol/fcm_tokens/a").set({"token": "tok-a-fresh"})

    counts = sweep.sweep(db, batch_size=10, emit=emit)
    assert {line["document"].rsplit("/", 1)[1]: line["outcome"] for line in lines} == {
        "a": "kept_reregistered", "b": "deleted", "c": "kept_reregistered"}
    assert counts["deleted"] == 1 and counts["kept_reregistered"] == 2
    assert db.document("users/carol/fcm_tokens/a").get().to_dict() == {"token": "tok-a-fresh"}
    assert not db.document("users/carol/fcm_tokens/b").get().exists


def test_bad_batch_size_is_refused(firestore_emulator):
    code, _, err = run_cli(firestore_emulator, "--batch-size", "501")
    assert code == 2 and "between 1 and 500" in err


def test_firestore_down_fails_with_status_1(monkeypatch, capsys):
    from functions import cleanup, clients, config
    from functions.commands import sweep

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{services.free_port()}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("FIRESTORE_TIMEOUT_SECONDS", "1")
    config.reset()
    config.reset()
    clients.reset()
    try:
        assert sweep.cli([]) == 1
    finally:
        config.reset()
        clients.reset()
    captured = capsys.readouterr()
    assert "safe to run again" in captured.err and captured.out == ""
