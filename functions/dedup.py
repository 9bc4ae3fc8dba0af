"""The dedup and delivery protocol on Redis: one push per (uid, provider, reason, key) per window.

One key per notification subject holds either a short *lease* (a delivery is under way) or a
*mark* (a delivery happened, or there was nobody to tell). The protocol:

1. `acquire`: one `SET key lease NX PX lease_ms GET`. It either takes the lease or returns what
   holds the key; a suppressed duplicate costs exactly this one command.
2. The lease holder reads targets and sends, then `settle`s: the lease becomes a mark, but only
   while the lease is still its own (or has lapsed unclaimed), compared atomically in Lua.
3. A holder whose sends all failed transiently `release`s the lease (again only if its own) and
   the event is retried by Pub/Sub.
4. A worker that dies leaves only the lease, which expires; Pub/Sub's redelivery then notifies.
   A redelivery that arrives before expiry finds its own event's lease and is retried, not dropped.
5. `forget`: a recovery event removes every mark of the user and provider at once (an index set
   kept by `settle`), so the next failure is reported straight away.

Optionally (MARK_CACHE_SECONDS), marks this process has seen are kept in memory for a few seconds,
so a flood of duplicates on one instance costs no Redis command at all (MarkCache).

Keys carry a hash tag `{provider:uid}`, so every key of one user and provider lives in one Redis
Cluster slot. Needs Redis >= 7.0 (SET with both NX and GET).
"""
from __future__ import annotations

import enum
import itertools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

KEY_PREFIX = "byok"
INDEX_TTL_SECONDS = 30 * 86400  # how long a recovery can still find a user's subjects
LEASE = b"L|"
MARK = b"M|"

# KEYS[1] key, KEYS[2] the user+provider index; ARGV[1] our lease, ARGV[2] mark, ARGV[3] ttl ms,
# ARGV[4] index ttl ms. Sets the mark when the key still holds our lease, or holds nothing (our lease
# lapsed and nobody else started a delivery), and remembers the key in the index for a recovery.
_SETTLE = """
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('SADD', KEYS[2], KEYS[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return 1
end
return 0
"""
# KEYS[1] the user+provider index. Deletes every subject key it lists (same hash tag, same slot),
# then the index; returns how many subjects there were.
_RECOVER = """
local members = redis.call('SMEMBERS', KEYS[1])
for _, k in ipairs(members) do
  redis.call('DEL', k)
end
redis.call('DEL', KEYS[1])
return #members
"""
# KEYS[1] key; ARGV[1] our lease. Deletes only our own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Acquired(enum.Enum):
    TAKEN = "taken"                  # ours: go on and deliver
    DUPLICATE = "duplicate"          # marked, or another event is delivering: acknowledge
    OWN_EARLIER = "own_earlier"      # an earlier attempt of this same event holds it: retry later


@dataclass(frozen=True)
class Subject:
    """What one notification is about; its Redis key is derived from it."""

    uid: str
    provider: str
    reason: str
    key_fingerprint: str | None = None
    shadow: bool = False  # DELIVERY_MODE=shadow: its own keys, so going live later is not suppressed

    @property
    def key(self) -> str:
        fp = quote(self.key_fingerprint, safe="") if self.key_fingerprint else "-"
        space = "shadow:" if self.shadow else ""  # after the hash tag: same slot, never a live key
        return f"{_tag(self.uid, self.provider)}:{space}{self.reason}:{fp}"

    @property
    def index_key(self) -> str:
        return index_key(self.uid, self.provider)


def _tag(uid: str, provider: str) -> str:
    return f"{KEY_PREFIX}:{{{provider}:{quote(uid, safe='')}}}"


def index_key(uid: str, provider: str) -> str:
    """The set of a user's subject keys for one provider (same hash slot as the keys)."""
    return f"{_tag(uid, provider)}:subjects"


_PROCESS = os.urandom(6).hex()
_ATTEMPTS = itertools.count()


def lease_value(event_id: str) -> bytes:
    """A value unique to this delivery attempt (process nonce + counter) that still names its event."""
    return LEASE + f"{event_id}|{_PROCESS}.{next(_ATTEMPTS)}".encode()


def _owned_by_event(value: bytes, event_id: str) -> bool:
    return value.startswith(LEASE + event_id.encode() + b"|")


_scripts: dict = {}


def run_script(client, name: str, source: str, keys: list, args: list):
    """EVALSHA with a one-time SCRIPT LOAD, whichever client (or cluster client) is passed."""
    script = _scripts.get(name)
    if script is None:
        from redis.commands.core import Script  # imported here: keeps the module light at cold start

        script = _scripts[name] = Script(client, source)  # the SHA is all that is kept
    return script(keys=keys, args=args, client=client)


class MarkCache:
    """Subject keys whose *mark* this process has seen in Redis, kept for a short, bounded time.

    A hit answers "duplicate" with no Redis command at all. Only marks are cached, never leases, so
    a released lease is seen at once. An entry lives at most `ttl` seconds and never past the
    mark's own expiry (written into the mark's value). A recovery handled here drops the user's
    entries at once; one handled by another instance is seen here within `ttl` seconds.
    """

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._until: OrderedDict[str, float] = OrderedDict()

    def fresh(self, key: str) -> bool:
        until = self._until.get(key)  # lock-free read: a stale miss only costs the Redis command
        if until is None:
            return False
        if until > time.time():
            return True
        with self._lock:
            self._until.pop(key, None)
        return False

    def remember(self, key: str, mark: bytes, ttl: float) -> None:
        if ttl <= 0:
            return
        until = min(time.time() + ttl, mark_expiry(mark))
        if until <= time.time():
            return
        with self._lock:
            self._until[key] = until
            self._until.move_to_end(key)
            while len(self._until) > self._size:
                self._until.popitem(last=False)

    def drop(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._until if k.startswith(prefix)]:
                del self._until[key]

    def clear(self) -> None:
        with self._lock:
            self._until.clear()


MARKS = MarkCache()


def acquire(client, subject: Subject, lease: bytes, lease_seconds: int, event_id: str,
            cache_seconds: float = 0) -> tuple[Acquired, bytes | None]:
    """Try to take the delivery lease; returns the verdict and the value that held the key.

    With `cache_seconds`, a mark this process saw recently answers without Redis (see MarkCache).
    """
    if cache_seconds and MARKS.fresh(subject.key):
        return Acquired.DUPLICATE, None
    held = client.set(subject.key, lease, nx=True, px=lease_seconds * 1000, get=True)
    if held is None or held == lease:  # `== lease`: our own SET landed before a retried reply
        return Acquired.TAKEN, None
    if _owned_by_event(held, event_id):
        return Acquired.OWN_EARLIER, held
    if cache_seconds and held.startswith(MARK):
        MARKS.remember(subject.key, held, cache_seconds)
    return Acquired.DUPLICATE, held


def mark_value(outcome: str, event_id: str, ttl_seconds: int) -> bytes:
    """`M|outcome|event|created|expires` (unix seconds): what happened, and until when it holds."""
    now = int(time.time())
    return MARK + f"{outcome}|{event_id}|{now}|{now + ttl_seconds}".encode()


def mark_expiry(mark: bytes) -> float:
    """When a mark written by mark_value expires (0 when unknown)."""
    try:
        return float(mark.rsplit(b"|", 1)[1])
    except (IndexError, ValueError):
        return 0.0


def settle(client, subject: Subject, lease: bytes, outcome: str, event_id: str, ttl_seconds: int,
           cache_seconds: float = 0) -> bool:
    """Turn our lease into a mark for `ttl_seconds`; False when another delivery holds the key."""
    mark = mark_value(outcome, event_id, ttl_seconds)
    done = bool(run_script(client, "settle", _SETTLE, [subject.key, subject.index_key],
                     [lease, mark, ttl_seconds * 1000, INDEX_TTL_SECONDS * 1000]))
    if done and cache_seconds:
        MARKS.remember(subject.key, mark, cache_seconds)
    return done


def release(client, subject: Subject, lease: bytes) -> bool:
    """Give the lease back (only if still ours) so a retry can deliver."""
    return bool(run_script(client, "release", _RELEASE, [subject.key], [lease]))


def forget(client, uid: str, provider: str) -> int:
    """Remove every mark of a user and provider (the key works again); returns how many there were."""
    MARKS.drop(_tag(uid, provider) + ":")
    return int(run_script(client, "recover", _RECOVER, [index_key(uid, provider)], []))
