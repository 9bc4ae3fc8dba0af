"""A prototype of the proposed in-process cache of confirmed marks, measured by bench/duplicates.py.

Not used by the functions: it wraps `dedup.acquire` from the outside so the benchmark can show what
the change would give. The proposal (docs/performance.md, "Beating the floor"):

- Only *marks* (values starting `M|`, read back by a SET NX GET that lost, or written by our own
  settle) are cached, never leases: a lease may be released after a failed send, and the
  redelivery must then find the key free. A released lease is therefore seen at once.
- An entry lives at most `ttl` seconds (the staleness bound, e.g. 30 s) and never past the mark's
  own expiry (its timestamp plus the window of its outcome).
- A recovery (`dedup.forget`) deletes the marks in Redis; the instance that handles it drops its
  entries for the user and provider at once, every other instance within `ttl` seconds. Until then
  a new failure of that user and provider is suppressed there: the broken key fails again on the
  next request, so the user is told at most `ttl` seconds later than without the cache.
- Bounded: at most `size` entries (LRU), about 200 bytes each.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict


class MarkCache:
    """Subject key -> monotonic deadline, for marks confirmed in Redis."""

    def __init__(self, ttl: float, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self._data: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def fresh(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            deadline = self._data.get(key)
            if deadline is None or deadline <= now:
                if deadline is not None:
                    del self._data[key]
                self.misses += 1
                return False
            self.hits += 1
            return True

    def remember(self, key: str, mark: bytes, windows: dict[str, int]) -> None:
        try:
            parts = mark.decode().split("|")
            outcome, stamp = parts[1], parts[-1]
            remaining = int(stamp) + windows.get(outcome, 0) - time.time()
        except ValueError:
            return
        life = min(self.ttl, remaining)
        if life <= 0:
            return
        with self._lock:
            self._data[key] = time.monotonic() + life
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def drop_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix)]:
                del self._data[key]


def install(ttl: float, size: int = 50_000) -> MarkCache:
    """Wrap dedup.acquire / settle so confirmed marks short-cut the Redis command."""
    from functions import config, dedup

    cfg = config.get()
    windows = {"sent": cfg.dedup_window_seconds, "no_targets": cfg.no_target_window_seconds}
    cache = MarkCache(ttl, size)
    acquire, settle = dedup.acquire, dedup.settle

    def cached_acquire(client, subject, lease, lease_seconds, event_id):
        key = subject.key
        if cache.fresh(key):
            return dedup.Acquired.DUPLICATE, dedup.MARK
        verdict, held = acquire(client, subject, lease, lease_seconds, event_id)
        if verdict is dedup.Acquired.DUPLICATE and held is not None and held.startswith(dedup.MARK):
            cache.remember(key, held, windows)
        return verdict, held

    def cached_settle(client, subject, lease, outcome, event_id, ttl_seconds, *args, **kwargs):
        ok = settle(client, subject, lease, outcome, event_id, ttl_seconds, *args, **kwargs)
        if ok:
            cache.remember(subject.key, dedup.mark_value(outcome, event_id), windows)
        return ok

    dedup.acquire, dedup.settle = cached_acquire, cached_settle
    cache.uninstall = lambda: (setattr(dedup, "acquire", acquire), setattr(dedup, "settle", settle))  # type: ignore[attr-defined]
    return cache
