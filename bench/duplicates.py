"""Duplicate-path throughput: the notifier's entry point on suppressed duplicates, against its floor.

The hot path is a broken key that fails on every request: each event is a duplicate that must cost
one Redis command and nothing else. The floor is a bare redis-py `SET key value NX EX 120` loop on
the same Redis server, same process, same run; the ratio notifier / floor is the figure (target
>= 0.8). Then the per-event cost is split into its parts (unwrap + parse, classify, the Redis
command, the log line) so a shortfall can be attributed.

The first loops run with MARK_CACHE_SECONDS=0 (the protocol alone: one Redis command per duplicate);
then, with --mark-cache, the same events with the in-process cache of confirmed marks (the default).

Log lines go to /dev/null while timing (they would go to a pipe in Cloud Run); `--log-file` writes
them to a real file instead. Rounds alternate floor and notifier so both see the same machine load.
Run: .venv/bin/python bench/duplicates.py [--events 20000] [--rounds 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

from common import ROOT, Stack, emit, error_event, print_machine, pubsub_data, quiet_stdout  # noqa: F401


def run_threads(fn, items: list, threads: int) -> float:
    """Items per second for fn over items, split across `threads` threads."""
    if threads == 1:
        start = time.perf_counter()
        for item in items:
            fn(item)
        return len(items) / (time.perf_counter() - start)
    chunks = [items[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(chunk):
        barrier.wait()
        for item in chunk:
            fn(item)

    pool = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return len(items) / (time.perf_counter() - start)


def per_event_us(fn, items: list) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=1000, help="distinct already-notified subjects")
    parser.add_argument("--threads", type=int, default=1, help="concurrent callers (same for both loops)")
    parser.add_argument("--log-file", default="/dev/null", help="where the notifier's log lines go while timing")
    parser.add_argument("--mark-cache", type=int, default=30, metavar="SECONDS",
                        help="also measure with the in-process cache of confirmed marks (MARK_CACHE_SECONDS) "
                             "at this staleness bound; 0 skips it")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the notifier loop")
    args = parser.parse_args()

    print_machine()
    with Stack(firestore=False) as stack:
        stack.use_in_process()
        import redis

        import os

        from functions import classify as classify_mod
        from functions import clients, config, dedup, logs, notify
        from functions.event import parse_event, unwrap_pubsub

        os.environ["MARK_CACHE_SECONDS"] = "0"  # first the protocol alone: one Redis command per duplicate
        config.reset()
        cfg = config.get()
        client = clients.redis_client()  # the notifier's own client: same pool settings in both loops
        uids = [f"bench-user-{i}" for i in range(args.users)]
        for uid in uids:  # every subject already notified: each event below is a duplicate
            client.set(dedup.Subject(uid, "openai", "quota_exhausted").key, dedup.mark_value("sent", "seed", cfg.dedup_window_seconds),
                       ex=cfg.dedup_window_seconds)
        events = []
        for i in range(args.events):
            event_id = uuid.uuid4().hex
            events.append((event_id, pubsub_data(error_event(uids[i % len(uids)]), event_id)))
        floor_keys = [f"bench:floor:{uid}" for uid in uids]
        for k in floor_keys:
            client.set(k, b"x", ex=3600)
        floor_items = [floor_keys[i % len(floor_keys)] for i in range(args.events)]
        bare = redis.Redis.from_url(stack.redis_url)  # a plain client, no retry/health-check options

        def notifier(item):
            outcome = notify.handle_pubsub_event(item[0], item[1])
            if outcome != "suppressed":
                raise AssertionError(f"expected a suppressed duplicate, got {outcome}")

        def floor(key):
            client.set(key, b"lease", nx=True, ex=120)

        def floor_bare(key):
            bare.set(key, b"lease", nx=True, ex=120)

        floors, bares, notes = [], [], []
        with quiet_stdout(args.log_file):
            run_threads(notifier, events[:2000], args.threads)  # warm: connections, scripts, caches
            run_threads(floor, floor_items[:2000], args.threads)
            for _ in range(args.rounds):
                floors.append(run_threads(floor, floor_items, args.threads))
                notes.append(run_threads(notifier, events, args.threads))
                bares.append(run_threads(floor_bare, floor_items, args.threads))

        floor_rate, note_rate, bare_rate = (statistics.median(x) for x in (floors, notes, bares))
        ratio = note_rate / floor_rate
        print(f"\nduplicate path, {args.threads} thread(s), {args.events} events x {args.rounds} rounds (median round)")
        print(f"  floor: redis-py SET NX EX, notifier's client  {floor_rate:10,.0f} ops/s   "
              f"({1e6 / floor_rate:6.1f} us/op)")
        print(f"  floor: redis-py SET NX EX, plain client       {bare_rate:10,.0f} ops/s   "
              f"({1e6 / bare_rate:6.1f} us/op)")
        print(f"  notifier handle_pubsub_event (suppressed)     {note_rate:10,.0f} events/s "
              f"({1e6 / note_rate:6.1f} us/event)")
        print(f"  ratio notifier / floor: {ratio:.2f} (same client), {note_rate / bare_rate:.2f} (plain client)"
              f"  (target >= 0.80)")

        # Where a duplicate's time goes, part by part, single thread.
        sample = events[: min(len(events), 10000)]
        unwrapped = [(eid, unwrap_pubsub(data)) for eid, data in sample]
        parsed = [parse_event(eid, raw, pt, cfg.max_event_bytes, attrs) for eid, (raw, pt, attrs) in unwrapped]
        with quiet_stdout(args.log_file):
            parts = {
                "unwrap (base64, dict access)": per_event_us(lambda it: unwrap_pubsub(it[1]), sample),
                "parse_event (JSON, validation, time)": per_event_us(
                    lambda it: parse_event(it[0], it[1][0], it[1][1], cfg.max_event_bytes, it[1][2]), unwrapped),
                "classify": per_event_us(lambda ev: classify_mod.classify(ev.provider, ev.error), parsed),
                "dedup key + lease value": per_event_us(
                    lambda ev: (dedup.Subject(ev.uid, ev.provider, "quota_exhausted", ev.key_fingerprint).key,
                                dedup.lease_value(ev.event_id)), parsed),
                "Redis SET NX PX GET (acquire)": per_event_us(
                    lambda ev: dedup.acquire(client, dedup.Subject(ev.uid, ev.provider, "quota_exhausted"),
                                             dedup.lease_value(ev.event_id), 120, ev.event_id), parsed),
                "log line (redact, JSON, write)": per_event_us(
                    lambda ev: logs.info("duplicate suppressed", function=notify.FUNCTION, event_id=ev.event_id,
                                         uid=ev.uid, provider=ev.provider, reason="quota_exhausted",
                                         outcome="suppressed"), parsed),
                "config.get + clients.redis_client": per_event_us(
                    lambda ev: (config.get(), clients.redis_client()), parsed),
            }
        total = sum(parts.values())
        print("\nper duplicate, single thread, parts measured alone (us):")
        for name, us in parts.items():
            print(f"  {name:40s} {us:7.1f}  {us / total * 100:5.1f} %")
        print(f"  {'sum of parts':40s} {total:7.1f}   (whole entry point: {1e6 / note_rate:.1f} with "
              f"{args.threads} thread(s))")
        redis_us = parts["Redis SET NX PX GET (acquire)"]
        print(f"  Python around the one Redis command: {total - redis_us:.1f} us "
              f"({(total - redis_us) / total * 100:.0f} % of a duplicate)")

        cached_rate = None
        if args.mark_cache > 0:
            os.environ["MARK_CACHE_SECONDS"] = str(args.mark_cache)
            config.reset()
            dedup.MARKS.clear()
            cached, cfloors = [], []
            with quiet_stdout(args.log_file):
                run_threads(notifier, events[:2000], args.threads)  # warm: the marks are read back and cached
                for _ in range(args.rounds):
                    cfloors.append(run_threads(floor_bare, floor_items, args.threads))
                    cached.append(run_threads(notifier, events, args.threads))
            cached_rate, cfloor = statistics.median(cached), statistics.median(cfloors)
            print(f"\nwith the in-process cache of confirmed marks (MARK_CACHE_SECONDS={args.mark_cache}):")
            print(f"  notifier (suppressed, cache hit)              {cached_rate:10,.0f} events/s "
                  f"({1e6 / cached_rate:6.1f} us/event)")
            print(f"  ratio against the plain-client floor measured beside it ({cfloor:,.0f} ops/s): "
                  f"{cached_rate / cfloor:.2f}")

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            with quiet_stdout(args.log_file):
                prof.enable()
                for item in events[:5000]:
                    notifier(item)
                prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(18)

        for k in floor_keys:
            client.delete(k)
        bare.close()
        emit("duplicates", {"threads": args.threads, "events": args.events, "rounds": args.rounds,
                            "floor_ops_s": round(floor_rate), "floor_plain_client_ops_s": round(bare_rate),
                            "notifier_events_s": round(note_rate), "ratio": round(ratio, 3),
                            "ratio_plain_floor": round(note_rate / bare_rate, 3),
                            "with_mark_cache_events_s": round(cached_rate) if cached_rate else None,
                            "parts_us": {k: round(v, 2) for k, v in parts.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
