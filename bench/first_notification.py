"""First notification: how long from an event to the push, broken down, and end to end on a local stack.

Part 1 (in-process): the notifier's entry point on new subjects (each event a new user with one
device), with each step it calls wrapped in a timer: decode (unwrap + parse), classify, lease
(SET NX PX GET), surge (the surge hold's count: one Lua call), Firestore read (targets, profile and status in two
round trips), send (firebase-admin to the local FCM server), mark (the settle script), status (the in-app status
document's write). "other" is the rest (message text, log lines). Median and p95 per step.

Part 1b: what the surge hold costs a first notification: rounds of the same in-process run with the hold off
(SURGE_USERS=0) and on (a threshold out of reach, so the count runs and every event is still sent), interleaved,
reported as the ratio of their median totals.

Part 2 (end to end): publish to the Pub/Sub emulator -> push subscription -> functions-framework
-> local FCM server; publish time to the moment the FCM server receives the push, one event at a
time so it is latency, not queueing. Median and p95.

Run: .venv/bin/python bench/first_notification.py [--events 60] [--e2e-events 40]
"""
from __future__ import annotations

import argparse
import json
import os
import time
import uuid

from common import (PROJECT, Stack, emit, error_event, print_machine, pubsub_data, quiet_stdout,
                    summary_ms)
from devstack import services

STEPS = ("decode", "classify", "lease", "surge", "firestore_read", "send", "mark", "status")


def timed(store: dict, name: str, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            store[name] = store.get(name, 0.0) + time.perf_counter() - start
    return wrapper


def in_process(stack: Stack, n: int, **settings: str) -> dict:
    stack.use_in_process(**settings)
    from google.cloud import firestore

    from functions import dedup, notify, status, surge, tokens
    from functions.channels import push as fcm

    db = firestore.Client(project=PROJECT)
    uids = [f"first-{uuid.uuid4().hex[:10]}" for _ in range(n + 5)]
    for uid in uids:
        db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})

    current: dict[str, float] = {}
    originals = {
        (notify, "unwrap_pubsub"): notify.unwrap_pubsub, (notify, "parse_event"): notify.parse_event,
        (notify, "explain_cached"): notify.explain_cached, (dedup, "acquire"): dedup.acquire, (surge, "count"): surge.count,
        (tokens, "read_recipient"): tokens.read_recipient, (fcm, "send"): fcm.send, (dedup, "settle"): dedup.settle,
        (status, "record"): status.record,
    }
    names = {"unwrap_pubsub": "decode", "parse_event": "decode", "explain_cached": "classify", "acquire": "lease",
             "count": "surge",
             "read_recipient": "firestore_read", "send": "send", "settle": "mark", "record": "status"}
    for (mod, attr), fn in originals.items():
        setattr(mod, attr, timed(current, names[attr], fn))
    per_step: dict[str, list[float]] = {s: [] for s in (*STEPS, "other", "total")}
    try:
        with quiet_stdout():
            for i, uid in enumerate(uids):
                current.clear()
                event_id = uuid.uuid4().hex
                data = pubsub_data(error_event(uid), event_id)
                start = time.perf_counter()
                outcome = notify.handle_pubsub_event(event_id, data)
                total = time.perf_counter() - start
                if outcome != "sent":
                    raise AssertionError(f"expected sent, got {outcome}")
                if i < 5:  # warm-up: first gRPC channel, first HTTP connection, script load
                    continue
                for s in STEPS:
                    per_step[s].append(current.get(s, 0.0))
                per_step["other"].append(total - sum(current.values()))
                per_step["total"].append(total)
    finally:
        for (mod, attr), fn in originals.items():
            setattr(mod, attr, fn)
    db.close()
    return {s: summary_ms(v) for s, v in per_step.items()}


def end_to_end(stack: Stack, n: int) -> dict:
    from google.cloud import firestore, pubsub_v1

    worker = services.start_function("notify_byok_llm_error", stack.env(), log_dir=stack.log_dir)
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.pubsub.address
    try:
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(PROJECT, "byok-llm-errors")
        publisher.create_topic(name=topic)
        sub = subscriber.subscription_path(PROJECT, "notifier-push")
        subscriber.create_subscription(request={"name": sub, "topic": topic, "ack_deadline_seconds": 30,
                                                "push_config": {"push_endpoint": f"http://{worker.address}/"}})
        db = firestore.Client(project=PROJECT)
        latencies = []
        for i in range(n + 3):
            uid = f"e2e-{uuid.uuid4().hex[:10]}"
            db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
            body = json.dumps(error_event(uid)).encode()
            start = time.time()
            publisher.publish(topic, body).result(timeout=30)
            deadline = time.monotonic() + 30
            arrived = None
            while arrived is None and time.monotonic() < deadline:
                with stack.fcm.state.lock:
                    for m in stack.fcm.state.inbox:
                        if m["message"].get("token") == f"tok-{uid}":
                            arrived = m["at"]
                if arrived is None:
                    time.sleep(0.002)
            if arrived is None:
                raise AssertionError(f"push for {uid} not received in 30 s; see {worker.log_path}")
            if i >= 3:  # warm-up: the worker's first clients
                latencies.append(arrived - start)
        db.close()
        inside = []
        for line in worker.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and '"outcome":"sent"' in line:
                inside.append(json.loads(line).get("latency_ms", 0) / 1000)
        return {**summary_ms(latencies), "in_function": summary_ms(inside[3:])}
    finally:
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60, help="new subjects timed in-process")
    parser.add_argument("--e2e-events", type=int, default=40, help="events published end to end")
    parser.add_argument("--surge-rounds", type=int, default=3, help="interleaved rounds with the surge hold off/on")
    args = parser.parse_args()
    print_machine()
    with Stack(firestore=True, pubsub=True) as stack:
        steps = in_process(stack, args.events)
        print(f"\nfirst notification, in-process, {steps['total']['n']} new subjects (ms):")
        print(f"  {'step':16s} {'median':>8s} {'p95':>8s}")
        for name, fig in steps.items():
            print(f"  {name:16s} {fig['median_ms']:8.2f} {fig['p95_ms']:8.2f}")
        rounds = {"off": [], "on": []}
        for _ in range(args.surge_rounds):
            for mode, users in (("off", "0"), ("on", "5000")):
                rounds[mode].append(in_process(stack, args.events, SURGE_USERS=users)["total"]["median_ms"])
        off, on = min(rounds["off"]), min(rounds["on"])
        print(f"\nthe surge hold's cost, {args.surge_rounds} interleaved rounds, best median total per mode: off "
              f"{off:.2f} ms, on {on:.2f} ms: on/off {on / off:.3f}x (every round: off "
              f"{', '.join(f'{v:.2f}' for v in rounds['off'])}; on {', '.join(f'{v:.2f}' for v in rounds['on'])})")
        e2e = end_to_end(stack, args.e2e_events)
        print(f"\nend to end, publish -> Pub/Sub emulator push -> functions-framework -> FCM server received, "
              f"{e2e['n']} events one at a time: median {e2e['median_ms']:.1f} ms, p95 {e2e['p95_ms']:.1f} ms")
        inside = e2e["in_function"]
        print(f"  of which inside the function (its latency_ms log field): median {inside['median_ms']:.1f} ms, "
              f"p95 {inside['p95_ms']:.1f} ms; the rest is the emulator's push delivery and HTTP")
        emit("first_notification", {"steps": steps, "end_to_end": e2e,
                                    "surge_hold": {"off_ms": off, "on_ms": on, "ratio": round(on / off, 3)}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
