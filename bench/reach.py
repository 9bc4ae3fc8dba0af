"""Reaching the user: the first email and a shadow-mode event, as ratios to the first push in the same run.

Three in-process runs on new subjects against real Redis, the Firestore emulator and the local FCM
server (the same path as bench/first_notification.py's part 1):
    push    a user with one device (the baseline)
    email   a user with no device and an address, EMAIL_MODE=fallback: the Trigger Email document write
    shadow  a user with one device, DELIVERY_MODE=shadow: lease, Firestore read, shadow mark, no send
Each is run twice in the order push, email, shadow, push, email, shadow, so drift on a shared machine
shows as a difference between the two push rounds (printed).

Run: .venv/bin/python bench/reach.py [--events 60]
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

from common import PROJECT, Stack, emit, error_event, print_machine, pubsub_data, quiet_stdout, summary_ms

WARMUP = 5


def run(stack: Stack, kind: str, n: int) -> list[float]:
    from google.cloud import firestore

    from functions import notify

    stack.use_in_process(EMAIL_MODE="fallback", DELIVERY_MODE="shadow" if kind == "shadow" else "live")
    db = firestore.Client(project=PROJECT)
    uids = [f"reach-{kind}-{uuid.uuid4().hex[:10]}" for _ in range(n + WARMUP)]
    for uid in uids:
        if kind == "email":
            db.document(f"users/{uid}").set({"email": f"{uid}@example.com"})
        else:
            db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
    want = {"push": "sent", "email": "emailed", "shadow": "would_send"}[kind]
    times: list[float] = []
    with quiet_stdout():
        for i, uid in enumerate(uids):
            event_id = uuid.uuid4().hex
            data = pubsub_data(error_event(uid), event_id)
            start = time.perf_counter()
            outcome = notify.handle_pubsub_event(event_id, data)
            elapsed = time.perf_counter() - start
            if outcome != want:
                raise AssertionError(f"{kind}: expected {want}, got {outcome}")
            if i >= WARMUP:
                times.append(elapsed)
    db.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60)
    args = parser.parse_args()
    print_machine()
    rounds: dict[str, list[list[float]]] = {"push": [], "email": [], "shadow": []}
    with Stack() as stack:
        for _ in range(2):
            for kind in rounds:
                rounds[kind].append(run(stack, kind, args.events))
    figures = {kind: summary_ms([t for r in runs for t in r]) for kind, runs in rounds.items()}
    base = figures["push"]["median_ms"]
    print(f"\nfirst delivery, in-process, {2 * args.events} new subjects each (ms):")
    print(f"  {'kind':8} {'median':>8} {'p95':>8} {'x push':>8}")
    for kind, f in figures.items():
        print(f"  {kind:8} {f['median_ms']:8.2f} {f['p95_ms']:8.2f} {f['median_ms'] / base:8.2f}")
    drift = [statistics.median(r) * 1000 for r in rounds["push"]]
    print(f"  push rounds: {drift[0]:.2f} then {drift[1]:.2f} ms median (machine drift between rounds)")
    emit("reach", {**figures, "ratios": {k: round(f["median_ms"] / base, 3) for k, f in figures.items()},
                   "push_rounds_median_ms": [round(d, 3) for d in drift]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
