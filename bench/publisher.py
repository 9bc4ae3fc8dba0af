"""What report() costs the request path, beside a bare PublisherClient.publish() in the same run.

Starts its own Pub/Sub emulator (devstack/services.py), then measures the median cost per call of:
  - a bare google-cloud-pubsub PublisherClient.publish() of a typical event (the reference);
  - Reporter.report() for a new failure (queued for the background thread);
  - Reporter.report() for a suppressed repeat (the hot path when a broken key fails on every request);
  - both again with Pub/Sub unreachable (PUBSUB_EMULATOR_HOST pointing at a closed port).
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
    for name, length, cost in redaction_figures(calls):
        print(f"redact_text(), {name} ({length} chars): {cost:.2f} us")
    print(f"up: published {up['published']}, dropped {up['dropped']}, all flushed: {up['flushed']}")
    print(f"down (buffer 1000): published {down['published']}, dropped {down['dropped']} "
          f"(incl. what close() gave up on), failed {down['failed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
