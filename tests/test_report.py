"""`python -m functions report`: the log summary, on crafted inputs of each shape and on a real load's log.

The load test runs the load benchmark's machinery (bench/loadgen.py) through a functions-framework
worker on the session's real services and reads the worker's own stdout: the report's counts must
equal the counts the run logged and the outcomes the mix implies.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import loadgen
from devstack import services
from functions.commands import report

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWXyz90"


def run_report(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "functions", "report", *args], cwd=ROOT, text=True,
                          capture_output=True, input=stdin, timeout=60)


def line(**fields) -> str:
    return json.dumps({"severity": "INFO", "message": "m", "function": "notify_byok_llm_error", **fields})


RAW = "\n".join([
    "[2026-12-01 10:00:00 +0000] [1] [INFO] Starting gunicorn 23.0.0",
    line(event_id="e1", uid="u1", provider="openai", reason="quota_exhausted", outcome="sent", latency_ms=12.5),
    line(event_id="e2", uid="u1", provider="openai", reason="quota_exhausted", outcome="suppressed"),
    line(event_id="e3", uid="u2", provider="openai", outcome="not_actionable", status_code=429,
         error_code="rate_limit_exceeded", error_type="RateLimitError"),
    line(event_id="e4", uid="u3", provider="openai", outcome="not_actionable", status_code=429,
         error_code="rate_limit_exceeded", error_type="RateLimitError"),
    line(event_id="e5", uid="u4", provider="gemini", outcome="not_actionable", status_code=400,
         error_code=f"weird {KEY}", error_type=None),
    line(event_id="e6", uid="u5", provider="anthropic", reason="invalid_key", outcome="retry", cause="redis_unavailable"),
    line(event_id="e7", uid="u6", provider="anthropic", reason="invalid_key", outcome="would_send",
         rule="anthropic.authentication_error", targets=2, latency_ms=7.0),
    json.dumps({"severity": "WARNING", "message": "could not mark a dead token", "function": "notify_byok_llm_error"}),
    "{broken json",
    json.dumps({"severity": "INFO", "message": "x", "function": "cleanup_invalid_fcm_tokens", "outcome": "deleted"}),
    "",
])


def as_log_entries(raw: str) -> list[dict]:
    """What Cloud Logging makes of the JSON lines (functions-framework's own lines become textPayload)."""
    out = []
    for n, text in enumerate(raw.splitlines()):
        if not text:
            continue
        try:
            payload = json.loads(text)
            entry = {"jsonPayload": payload, "severity": payload.get("severity")}
        except ValueError:
            entry = {"textPayload": text}
        out.append({**entry, "timestamp": f"2026-12-01T10:00:{n:02d}.000Z", "logName": "projects/p/logs/run",
                    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "notify-byok-llm-error"}}})
    return out


def check_crafted(s: dict, junk: int) -> None:
    assert s["records"] == 8 and s["other_records"] == 1 and s["junk_lines"] == junk
    outcomes = {(r["function"], r["outcome"]): r["count"] for r in s["outcomes"]}
    assert outcomes[("notify_byok_llm_error", "not_actionable")] == 3
    assert outcomes[("cleanup_invalid_fcm_tokens", "deleted")] == 1
    top = s["not_actionable_top"][0]
    assert (top["provider"], top["status_code"], top["code"], top["count"]) == ("openai", 429, "rate_limit_exceeded", 2)
    assert s["retries"] == [{"cause": "redis_unavailable", "count": 1}]
    assert s["would_send"]["count"] == 1
    sample = s["would_send"]["samples"][0]
    assert sample["rule"] == "anthropic.authentication_error" and sample["targets"] == 2
    assert s["latency_ms"]["all"]["count"] == 2 and s["latency_ms"]["sent"]["p50"] == 12.5
    subjects = {(r["provider"], r["reason"], r["outcome"]): r["count"] for r in s["by_provider_reason"]}
    assert subjects[("openai", "quota_exhausted", "sent")] == 1 and subjects[("openai", None, "not_actionable")] == 2


def test_raw_stdout_lines_with_junk():
    result = run_report("--json", "-", stdin=RAW)
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    check_crafted(s, junk=2)  # the gunicorn line and the broken JSON
    assert KEY not in result.stdout  # the key in a free-text field is masked, as in the logs


def test_gcloud_logging_read_json_array_and_ndjson_export(tmp_path):
    entries = as_log_entries(RAW)
    array = tmp_path / "read.json"
    array.write_text(json.dumps(entries, indent=2))  # gcloud --format=json pretty-prints one array
    s = json.loads(run_report("--json", str(array)).stdout)
    check_crafted(s, junk=2)  # the gunicorn line and the broken JSON are textPayload entries there
    assert s["first"] == "2026-12-01T10:00:01.000Z"
    export = tmp_path / "export.json"
    export.write_text("\n".join(json.dumps(e) for e in entries) + "\nnot json at all\n")
    s2 = json.loads(run_report("--json", str(export)).stdout)
    check_crafted(s2, junk=3)


def test_readable_table_names_the_gaps():
    result = run_report(stdin=RAW)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "most frequent not_actionable errors" in out and "rate_limit_exceeded" in out
    assert "would_send (shadow mode): 1" in out and "rule=anthropic.authentication_error" in out
    assert "redis_unavailable" in out and "p95" in out and KEY not in out


def test_empty_input_and_missing_file():
    s = json.loads(run_report("--json", stdin="").stdout)
    assert s["records"] == 0 and s["latency_ms"]["all"]["p50"] is None
    result = run_report("/nonexistent/logs.json")
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_percentiles_are_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert report._percentiles(values) == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}


@pytest.mark.slow
def test_report_on_a_real_load_equals_what_the_run_logged(service_env, firestore_db, redis_db, fcm, log_dir,
                                                         tmp_path):
    m = loadgen.mix(total=400, new_fraction=0.05, marked_users=20, seed=15)
    loadgen.seed(m, firestore_db, redis_db)
    worker = services.start_function("notify_byok_llm_error", {**service_env, "THREADS": "4"}, log_dir=log_dir,
                                     name="notify-report")
    try:
        load = loadgen.Load(f"http://{worker.address}/", m.events, senders=4, deadline_seconds=120).run()
        assert load.unacked == []
        deadline = time.monotonic() + 20  # the log lines trail the HTTP answers by a moment
        while sum(loadgen.outcomes(worker.log_path).values()) < len(m.events) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    kept = tmp_path / "worker.log"
    kept.write_bytes(worker.log_path.read_bytes())

    result = run_report("--json", str(kept))
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    got = {r["outcome"]: r["count"] for r in s["outcomes"] if r["function"] == "notify_byok_llm_error"}
    assert got == dict(loadgen.outcomes(kept))  # the counts the run logged
    kinds = m.counts()
    assert got["invalid_event"] == kinds["poison"]
    assert got["not_actionable"] == kinds["not_actionable"]
    assert got["sent"] == len(m.devices)
    assert loadgen.check(m.expected_pushes(), loadgen.delivered_tokens(fcm)) == []
    assert got["sent"] + got["suppressed"] == kinds["new"] + kinds["duplicate"]
    assert s["records"] == sum(got.values()) >= len(m.events)
    assert s["latency_ms"]["sent"]["count"] == got["sent"]
    assert 0 < s["latency_ms"]["all"]["p50"] <= s["latency_ms"]["all"]["p95"] <= s["latency_ms"]["all"]["p99"]
    by_reason = {(r["reason"], r["outcome"]): r["count"] for r in s["by_provider_reason"]}
    assert by_reason[("quota_exhausted", "sent")] + by_reason[("invalid_key", "sent")] == len(m.devices)
    # the same log as Cloud Logging would hold it gives the same report
    array = tmp_path / "read.json"
    array.write_text(json.dumps(as_log_entries(kept.read_text(errors="replace"))))
    s2 = json.loads(run_report("--json", str(array)).stdout)
    assert s2["outcomes"] == s["outcomes"] and s2["latency_ms"] == s["latency_ms"]


@pytest.mark.slow
def test_report_on_a_shadow_run_shows_what_would_have_been_sent(service_env, firestore_db, redis_db, fcm, log_dir,
                                                                tmp_path):
    m = loadgen.mix(total=60, new_fraction=0.1, marked_users=5, seed=16)
    loadgen.seed(m, firestore_db, redis_db)
    worker = services.start_function("notify_byok_llm_error", {**service_env, "DELIVERY_MODE": "shadow"},
                                     log_dir=log_dir, name="notify-report-shadow")
    try:
        load = loadgen.Load(f"http://{worker.address}/", m.events, senders=2, deadline_seconds=120).run()
        assert load.unacked == []
        deadline = time.monotonic() + 20
        while sum(loadgen.outcomes(worker.log_path).values()) < len(m.events) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    s = json.loads(run_report("--json", "--samples", "3", str(worker.log_path)).stdout)
    assert fcm.delivered() == []  # shadow: nothing sent
    # shadow dedups in its own namespace: the users marked as told before (live marks) count too, once each
    subjects = {e.uid for e in m.events if e.kind in ("new", "duplicate")}
    assert s["would_send"]["count"] == len(subjects) > len(m.devices)
    assert len(s["would_send"]["samples"]) == 3
    for sample in s["would_send"]["samples"]:
        assert sample["uid"] in subjects and sample["rule"]  # the classifier rule that decided
        assert sample["targets"] == len(m.devices.get(sample["uid"], []))
        assert sample["would_push"] is (sample["targets"] > 0)
        assert sample["reason"] in ("quota_exhausted", "invalid_key")


def test_a_mangled_key_is_counted_apart_from_classifier_gaps():
    """The backend's bug (outcome key_malformed) is its own line of the mix, never a frequent not_actionable pair."""
    r = report.Report()
    for n in range(3):
        r.add(json.loads(line(event_id=f"m{n}", uid=f"u{n}", provider="openai", outcome="key_malformed",
                              status_code=401, decided_by="verification:key_malformed", classifier_reason="invalid_key")))
    s = r.summary()
    assert {(o["outcome"], o["count"]) for o in s["outcomes"]} == {("key_malformed", 3)}
    assert s["not_actionable_top"] == [] and s["by_provider_reason"] == [
        {"provider": "openai", "reason": None, "outcome": "key_malformed", "count": 3}]
