"""What report() costs the request path, beside a bare PublisherClient.publish() in the same run.

Starts its own Pub/Sub emulator (devstack/services.py), then measures the median cost per call of:
  - a bare google-cloud-pubsub PublisherClient.publish() of a typical event (the reference);
  - Reporter.report() for a new failure (queued for the background thread);
  - Reporter.report() for a suppressed repeat (the hot path when a broken key fails on every request);
  - both again with Pub/Sub unreachable (PUBSUB_EMULATOR_HOST pointing at a closed port);
  - "before": the same with version 1 (functions/publisher.py, loaded from git history when the
    repository has it) beside "after": byok_reporter 2 with key= and a probe-eligible error, its
    probes going to a local fake provider;
  - probes per broken key per window: one key failing 1000 times in different ways.
The error is a real openai.RateLimitError built with the SDK's own constructor when openai is
installed (a dict otherwise). Calls are timed in batches of BATCH; the figure is the median batch's
mean. Usage: .venv/bin/python bench/publisher.py [--calls N]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "reporter"))

from devstack import services  # noqa: E402
from byok_reporter import Reporter  # noqa: E402

KEY = "sk-proj-" + "Bq3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 5


def reporter_v1():
    """Version 1's Reporter (functions/publisher.py), from the last commit that had it; or None."""
    import importlib.util
    import subprocess
    import tempfile

    try:
        gone = subprocess.run(["git", "-C", str(ROOT), "rev-list", "-n1", "HEAD", "--", "functions/publisher.py"],
                              capture_output=True, text=True, check=True).stdout.strip()
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{gone}^:functions/publisher.py"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "publisher_v1.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("publisher_v1", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Reporter


class ProbeTarget:
    """A local provider: every request answers 401 (a broken key); counts the probes it gets."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.probes = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.probes += 1
                data = b'{"error": {"code": "invalid_api_key"}}'
                self.send_response(401)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

PROJECT = "demo-byok-bench"
BATCH = 100


def sample_error():
    """A real openai.RateLimitError as the SDK builds it from a 429 answer, or its dict form."""
    body = {"message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}
    try:
        import httpx2
        import openai
    except ImportError:
        return {"status_code": 429, "type": "RateLimitError", "code": "insufficient_quota",
                "message": "Error code: 429 - " + body["message"], "body": body}
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx2.Response(429, request=request, json={"error": body})
    return openai.RateLimitError("Error code: 429 - " + body["message"], response=response, body=body)


def per_call_us(fn, calls: int) -> float:
    """Median over batches of the mean cost of one call, in microseconds."""
    batches = []
    for start in range(0, calls, BATCH):
        t0 = time.perf_counter_ns()
        for i in range(start, start + BATCH):
            fn(i)
        batches.append((time.perf_counter_ns() - t0) / BATCH / 1000)
    return statistics.median(batches)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(calls: int, topic: str, error, label: str, buffer_size: int) -> dict[str, float]:
    from google.cloud import pubsub_v1

    event = json.dumps({"version": 1, "kind": "error", "uid": "user-123", "provider": "openai",
                        "occurred_at": "2026-11-26T12:00:00.000Z",
                        "error": {"status_code": 429, "type": "RateLimitError", "code": "insufficient_quota",
                                  "message": "Error code: 429 - You exceeded your current quota."}}).encode()
    client = pubsub_v1.PublisherClient()
    topic_path = client.topic_path(PROJECT, topic)
    bare = per_call_us(lambda i: client.publish(topic_path, event, provider="openai"), calls)
    client.stop()

    fresh = Reporter(PROJECT, topic, buffer_size=buffer_size, max_keys=calls + 1,
                     fingerprint_pepper="bench", publish_timeout=5)
    uids = [f"user-{uuid.uuid4().hex[:12]}" for _ in range(calls)]
    fresh.report("warm-up", "openai", error)
    new = per_call_us(lambda i: fresh.report(uids[i], "openai", error, model="gpt-4o"), calls)
    repeat = per_call_us(lambda i: fresh.report("user-repeat", "openai", error, model="gpt-4o"), calls)
    flushed = fresh.flush(60 if label == "reachable" else 1)
    fresh.close(timeout=1)
    stats = fresh.stats()
    return {"bare_publish_us": bare, "report_new_us": new, "report_repeat_us": repeat,
            "published": stats["published"], "dropped": stats["dropped"], "failed": stats["failed"],
            "flushed": flushed}


def before_after(calls: int, topic: str, error) -> dict[str, dict[str, float]] | None:
    """report() with key= of version 1 and of version 2 (probe-eligible), beside a bare publish()."""
    from google.cloud import pubsub_v1

    v1 = reporter_v1()
    if v1 is None:
        return None
    event = json.dumps({"version": 1, "kind": "error", "uid": "user-123", "provider": "openai",
                        "occurred_at": "2026-11-26T12:00:00.000Z", "error": {"status_code": 401}}).encode()
    client = pubsub_v1.PublisherClient()
    topic_path = client.topic_path(PROJECT, topic)
    bare = per_call_us(lambda i: client.publish(topic_path, event, provider="openai"), calls)
    client.stop()
    target = ProbeTarget()
    out = {}
    try:
        for name, cls, extra in (("before (v1)", v1, {}), ("after (v2, probing)", Reporter,
                                                          {"base_url": target.base_url})):
            r = cls(PROJECT, topic, buffer_size=calls + 1, max_keys=calls + 1, fingerprint_pepper="bench",
                    publish_timeout=5)
            uids = [f"user-{uuid.uuid4().hex[:12]}" for _ in range(calls)]
            r.report("warm-up", "openai", error, key=KEY, **extra)
            new = per_call_us(lambda i: r.report(uids[i], "openai", error, key=KEY, model="gpt-4o", **extra), calls)
            repeat = per_call_us(lambda i: r.report("user-repeat", "openai", error, key=KEY, model="gpt-4o",
                                                    **extra), calls)
            r.flush(60)
            r.close(timeout=1)
            out[name] = {"new": new, "repeat": repeat, "bare": bare}
    finally:
        target.stop()
    return out


def probes_per_key(topic: str, failures: int = 1000) -> tuple[int, int]:
    """(probes the provider received, distinct events) for one broken key failing `failures` times
    within one window, with varied statuses, codes and features."""
    target = ProbeTarget()
    r = Reporter(PROJECT, topic, fingerprint_pepper="bench", publish_timeout=5)
    kinds = [{"status_code": 401, "code": "invalid_api_key", "message": "Incorrect API key provided"},
             {"status_code": 403, "message": "Forbidden"},
             {"status_code": 429, "code": "insufficient_quota", "message": "You exceeded your current quota"}]
    try:
        for i in range(failures):
            r.report("user-broken", "openai", kinds[i % len(kinds)], key=KEY, base_url=target.base_url,
                     feature=f"f{i % 7}")
        r.flush(30)
        events = r.stats()["published"]
    finally:
        r.close(timeout=2)
        target.stop()
    return target.probes, events


def redaction_figures(calls: int) -> list[tuple[str, int, float]]:
    """redact_text() cost: it runs on every log line of the functions and on every event here."""
    from functions.redact import redact_text

    texts = [
        ("short log field", "notification sent"),
        ("quota error text", "Error code: 429 - {'error': {'message': 'You exceeded your current quota, please "
                             "check your plan and billing details.', 'type': 'insufficient_quota', 'param': "
                             "None, 'code': 'insufficient_quota'}}"),
        ("bad-key error text", "Error code: 401 - {'error': {'message': 'Incorrect API key provided: sk-proj-"
                               "abcDEF1234567890abcdefghijklmnopqrstuvwxyz12. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error',"
                               " 'param': None, 'code': 'invalid_api_key'}}"),
    ]
    return [(name, len(text), per_call_us(lambda i, t=text: redact_text(t), calls)) for name, text in texts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per measurement (default 20000)")
    args = parser.parse_args()
    calls = max(BATCH, args.calls // BATCH * BATCH)
    error = sample_error()

    emulator = services.start_pubsub_emulator()
    try:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.address
        from google.cloud import pubsub_v1

        topic = f"bench-{uuid.uuid4().hex[:8]}"
        pubsub_v1.PublisherClient().create_topic(name=f"projects/{PROJECT}/topics/{topic}")
        gc.collect()
        # Up: a buffer as large as the run, so "new" is the ordinary enqueue. Down: the default
        # buffer (1000), so most new reports take the drop-the-oldest path.
        up = measure(calls, topic, error, "reachable", buffer_size=calls + 1)
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{closed_port()}"
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator.address
        versions = before_after(calls, topic, error)
        probes, probe_events = probes_per_key(topic)
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{closed_port()}"
        down = measure(calls, topic, error, "unreachable", buffer_size=1000)
    finally:
        emulator.stop()

    print(f"error object: {type(error).__name__}; {calls} calls per figure, median of {BATCH}-call batches; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    print(f"{'':34}{'Pub/Sub up':>14}{'Pub/Sub down':>16}")
    for key, name in (("bare_publish_us", "bare PublisherClient.publish()"),
                      ("report_new_us", "report(), new failure"),
                      ("report_repeat_us", "report(), suppressed repeat")):
        print(f"{name:34}{up[key]:>11.2f} us{down[key]:>13.2f} us")
    print(f"{'new / bare publish':34}{up['report_new_us'] / up['bare_publish_us']:>13.2f}x"
          f"{down['report_new_us'] / down['bare_publish_us']:>15.2f}x")
    print(f"{'repeat / bare publish':34}{up['report_repeat_us'] / up['bare_publish_us']:>13.2f}x"
          f"{down['report_repeat_us'] / down['bare_publish_us']:>15.2f}x")
    if versions:
        print(f"with key= (Pub/Sub up){'new':>21}{'repeat':>12}{'new/bare':>11}{'repeat/bare':>13}")
        for name, v in versions.items():
            print(f"report(), {name:24}{v['new']:>8.2f} us{v['repeat']:>9.2f} us{v['new'] / v['bare']:>10.2f}x"
                  f"{v['repeat'] / v['bare']:>12.2f}x")
    else:
        print("before/after: version 1 not found in git history (not a git checkout)")
    print(f"probes per broken key per window: {probes} (1000 failures of one key, {probe_events} events)")
    for name, length, cost in redaction_figures(calls):
        print(f"redact_text(), {name} ({length} chars): {cost:.2f} us")
    print(f"up: published {up['published']}, dropped {up['dropped']}, all flushed: {up['flushed']}")
    print(f"down (buffer 1000): published {down['published']}, dropped {down['dropped']} "
          f"(incl. what close() gave up on), failed {down['failed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
