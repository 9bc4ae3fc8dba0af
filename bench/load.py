"""Load: 10,000 events through the functions-framework server from 16 concurrent senders, checked exactly.

The mix (bench/loadgen.py): 1 % new actionable events for distinct users (100 users, a quarter of
them with two devices), 69 % duplicates (of 500 subjects notified before the load and of this
load's new ones), 20 % non-actionable errors (rate limits, 5xx, overload, timeouts), 10 % poison.
One functions-framework process (gunicorn, 1 worker, its default threads: 4 per core) serves
them; Redis, the Firestore emulator and the FCM server are the local ones.

Reported: events per second, the outcome tally from the worker's log lines, and the exact check:
every expected push delivered once, none extra, none lost. Exit status 1 when the check fails.
Run: .venv/bin/python bench/load.py [--events 10000] [--senders 16] [--keep-log FILE]
`--keep-log FILE` copies the worker's stdout (its JSON log lines, the 50 warm-up events' included,
and functions-framework's own lines) to FILE, for `python -m functions report FILE`.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from common import PROJECT, Stack, emit, print_machine

from bench import loadgen
from devstack import services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="THREADS for the worker (0: its default)")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the worker's log lines to FILE")
    args = parser.parse_args()
    print_machine()
    with Stack(firestore=True) as stack:
        import redis
        from google.cloud import firestore
        import os

        os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore.address
        env = stack.env()
        if args.threads:
            env["THREADS"] = str(args.threads)
        worker = services.start_function("notify_byok_llm_error", env, log_dir=stack.log_dir)
        try:
            m = loadgen.mix(total=args.events)
            db = firestore.Client(project=PROJECT)
            r = redis.Redis.from_url(stack.redis_url)
            loadgen.seed(m, db, r)
            url = f"http://{worker.address}/"
            warm = loadgen.mix(total=50, new_fraction=0.02, marked_users=5, tag="warm")
            loadgen.seed(warm, db, r)
            loadgen.Load(url, warm.events, senders=4).run()
            stack.fcm.state.reset()
            before = loadgen.outcomes(worker.log_path)

            load = loadgen.Load(url, m.events, senders=args.senders).run()
            time.sleep(0.5)  # the last log lines
            tally = loadgen.outcomes(worker.log_path) - before
            problems = loadgen.check(m.expected_pushes(), loadgen.delivered_tokens(stack.fcm))
            if load.unacked:
                problems.append(f"{len(load.unacked)} events never acknowledged")
            from functions import dedup

            marks = 0
            for uid in m.devices:
                held = [r.get(dedup.Subject(uid, "openai", reason).key) for reason in ("quota_exhausted", "invalid_key")]
                marks += any(v is not None and v.startswith(b"M|sent|") for v in held)
            if marks != len(m.devices):
                problems.append(f"{marks} sent marks in Redis for {len(m.devices)} users told")
            db.close()
            r.close()
        finally:
            worker.stop()
            if args.keep_log:
                shutil.copyfile(worker.log_path, args.keep_log)

    rate = len(m.events) / load.elapsed
    kinds = m.counts()
    print(f"\nload: {len(m.events):,} events, {args.senders} concurrent senders, one functions-framework process")
    print(f"  mix: {dict(kinds)}")
    print(f"  {rate:,.0f} events/s ({load.elapsed:.1f} s), {load.attempts:,} posts, non-2xx answers: "
          f"{dict(load.failures) or 'none'}")
    print(f"  outcomes logged: {dict(tally)}")
    print(f"  pushes expected {sum(m.expected_pushes().values())} to {len(m.devices)} users, delivered "
          f"{len(loadgen.delivered_tokens(stack.fcm))}")
    print("  exact check: " + ("OK, every expected push delivered exactly once, none extra, none lost"
                               if not problems else "FAILED: " + "; ".join(problems)))
    emit("load", {"events": len(m.events), "senders": args.senders, "events_s": round(rate),
                  "elapsed_s": round(load.elapsed, 2), "mix": dict(kinds), "outcomes": dict(tally),
                  "failures": dict(load.failures), "problems": problems})
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
