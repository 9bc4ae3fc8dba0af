"""Events per second through the classifier on the real fixture cases, beside json.loads of the same events.

Targets (issue 12): a new error under 50 µs and a repeat under 10 µs; both are printed as a ratio to the
json.loads of the same events measured in the same run, since absolute figures move with the machine.

A duplicate event (the hot path: a broken key fails on every request) costs a JSON decode, a
classification and one Redis command; this shows what the classifier adds next to the decode.
Prints figures only, no thresholds. Run: .venv/bin/python bench/classify.py [--seconds 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from functions.classify import classify, explain, explain_cached  # noqa: E402


def events() -> list[str]:
    """Each fixture case as a full v1 event, serialised as the publisher would send it."""
    out = []
    for line in (ROOT / "tests/fixtures/provider_errors.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        out.append(json.dumps({"version": 1, "uid": "u1", "provider": case["provider"],
                               "occurred_at": "2026-11-26T12:00:00Z", "feature": "chat",
                               "error": case["error"]}))
    return out


def rate(fn, items, seconds: float) -> float:
    """Items per second for fn over items, from the fastest of the passes made in about `seconds`: the
    machine is shared, and other processes only ever make a pass slower."""
    best, start = float("inf"), time.perf_counter()
    while True:
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
        if time.perf_counter() - start >= seconds:
            return len(items) / best


def _table_scaling(pairs, seconds: float) -> tuple[float, float]:
    """Row lookups per second on the corpus texts: each case's own chain, then one 600-row synthetic chain, to
    show the cost follows the text, not the number of rows (the rows are indexed, never all scanned)."""
    import random

    from functions import providers
    from functions.classify import _codes, _text

    reg = providers.registry()
    items = []
    for provider, error in pairs:
        hay = " ".join(_text(error.get(k)) for k in ("type", "code", "message", "body")).lower()
        items.append((reg.chain(provider), error.get("status_code"), _codes(error, hay), hay))
    rnd = random.Random(12)
    word = lambda: "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(4, 9)))
    rows = []
    for i in range(600):
        kind = i % 3
        rows.append(providers.Row(f"bench.r{i}", frozenset({400 + i % 30}) if kind == 1 else None,
                                  frozenset({word()}) if kind == 0 else None,
                                  (f"{word()} {word()} {word()}",) if kind else None,
                                  None, "x", "w", "https://example.com", i))
    big = providers.Chain("bench", ("bench",), rows)
    real = rate(lambda it: it[0] and it[0].match(it[1], it[2], it[3]), items, seconds)
    synthetic = rate(lambda it: big.match(it[1], it[2], it[3]), items, seconds)
    return real, synthetic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--redis-url", help="also time one SET NX EX round trip (the duplicate path's "
                        "Redis command), e.g. redis://127.0.0.1:6379/15; keys are prefixed bench: and expire")
    args = parser.parse_args()
    raw = events()
    decoded = [json.loads(e) for e in raw]
    pairs = [(d["provider"], d["error"]) for d in decoded]
    worst = max(pairs, key=lambda p: len(json.dumps(p[1])))

    decode = rate(json.loads, raw, args.seconds)
    explain(*pairs[0])                                   # the tables load once per process, before timing
    classify_rate = rate(lambda p: explain(*p), pairs, args.seconds)        # a new error: tables, then text
    cached_rate = rate(lambda p: explain_cached(*p), pairs, args.seconds)   # what the notifier calls
    worst_rate = rate(lambda p: classify(*p), [worst], args.seconds / 2)
    huge = ("openai", {"message": "x" * 1_000_000, "body": {"error": ["y" * 1000] * 1000}})
    huge_rate = rate(lambda p: classify(*p), [huge], args.seconds / 2)

    table_rate, big_rate = _table_scaling(pairs, args.seconds / 2)

    print(f"cases: {len(raw)} real provider errors (mean event {sum(map(len, raw)) / len(raw):.0f} bytes)")
    print(f"json.loads(event):   {decode:12,.0f} events/s  ({1e6 / decode:6.1f} µs each)")
    print(f"new error, explain(provider, error): {classify_rate:6,.0f} events/s  ({1e6 / classify_rate:6.1f} µs "
          f"each, {decode / classify_rate:.1f} x json.loads; target < 50 µs)")
    print(f"repeat, explain_cached (the notifier's call; a broken key fails the same way every time): "
          f"{cached_rate:,.0f} events/s ({1e6 / cached_rate:.1f} µs each, {decode / cached_rate:.2f} x json.loads; "
          f"target < 10 µs)")
    print(f"largest fixture case ({len(json.dumps(worst[1]))} bytes): {1e6 / worst_rate:.1f} µs")
    print(f"1 MB message + 1 MB body (capped scan): {1e6 / huge_rate:.1f} µs")
    print(f"row lookup alone, the real tables: {1e6 / table_rate:.2f} µs; a synthetic 600-row table "
          f"(200 code rows, 200 status rows, 200 phrase-only rows): {1e6 / big_rate:.2f} µs")
    figures = {"cases": len(raw), "lookup_us": round(1e6 / table_rate, 2), "lookup_600_rows_us": round(1e6 / big_rate, 2), "json_loads_us": round(1e6 / decode, 2),
               "new_error_us": round(1e6 / classify_rate, 2), "new_error_ratio": round(decode / classify_rate, 2),
               "repeat_us": round(1e6 / cached_rate, 2), "repeat_ratio": round(decode / cached_rate, 2),
               "largest_case_us": round(1e6 / worst_rate, 1), "huge_us": round(1e6 / huge_rate, 1)}
    if args.redis_url:
        import itertools

        import redis

        client = redis.Redis.from_url(args.redis_url)
        counter = itertools.count()
        setnx = rate(lambda _: client.set(f"bench:lease:{next(counter) % 1000}", "x", nx=True, ex=5),
                     list(range(100)), args.seconds)
        path = 1 / decode + 1 / cached_rate + 1 / setnx
        print(f"redis SET NX EX round trip: {1e6 / setnx:.1f} µs")
        print(f"duplicate path (decode + classify_cached + SET NX): {1e6 * path:.1f} µs, "
              f"classify share {100 / cached_rate / path:.0f} %")
        figures["setnx_us"] = round(1e6 / setnx, 1)
    print("RESULT " + json.dumps({"bench": "classify", **figures}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
