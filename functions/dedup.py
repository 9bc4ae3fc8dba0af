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

Keys carry a hash tag `{provider:uid}`, so every key of one user and provider lives in one Redis
Cluster slot. Needs Redis >= 7.0 (SET with both NX and GET).
"""
from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from urllib.parse import quote

from redis.commands.core import Script

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

    @property
    def key(self) -> str:
        fp = quote(self.key_fingerprint, safe="") if self.key_fingerprint else "-"
        return f"{_tag(self.uid, self.provider)}:{self.reason}:{fp}"

    @property
    def index_key(self) -> str:
        return index_key(self.uid, self.provider)


def _tag(uid: str, provider: str) -> str:
    return f"{KEY_PREFIX}:{{{provider}:{quote(uid, safe='')}}}"


def index_key(uid: str, provider: str) -> str:
    """The set of a user's subject keys for one provider (same hash slot as the keys)."""
    return f"{_tag(uid, provider)}:subjects"


def lease_value(event_id: str) -> bytes:
    """A value unique to this delivery attempt that still names its event."""
    return LEASE + f"{event_id}|{os.urandom(6).hex()}".encode()


def _owned_by_event(value: bytes, event_id: str) -> bool:
    return value.startswith(LEASE + event_id.encode() + b"|")


_scripts: dict[str, Script] = {}


def _run(client, name: str, source: str, keys: list, args: list):
    """EVALSHA with a one-time SCRIPT LOAD, whichever client (or cluster client) is passed."""
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = Script(client, source)  # the SHA is all that is kept
    return script(keys=keys, args=args, client=client)


def acquire(client, subject: Subject, lease: bytes, lease_seconds: int, event_id: str) -> tuple[Acquired, bytes | None]:
    """Try to take the delivery lease; returns the verdict and the value that held the key."""
    held = client.set(subject.key, lease, nx=True, px=lease_seconds * 1000, get=True)
    if held is None or held == lease:  # `== lease`: our own SET landed before a retried reply
        return Acquired.TAKEN, None
    if _owned_by_event(held, event_id):
        return Acquired.OWN_EARLIER, held
    return Acquired.DUPLICATE, held


def mark_value(outcome: str, event_id: str) -> bytes:
    return MARK + f"{outcome}|{event_id}|{int(time.time())}".encode()


def settle(client, subject: Subject, lease: bytes, outcome: str, event_id: str, ttl_seconds: int) -> bool:
    """Turn our lease into a mark for `ttl_seconds`; False when another delivery holds the key."""
    return bool(_run(client, "settle", _SETTLE, [subject.key, subject.index_key],
                     [lease, mark_value(outcome, event_id), ttl_seconds * 1000, INDEX_TTL_SECONDS * 1000]))


def release(client, subject: Subject, lease: bytes) -> bool:
    """Give the lease back (only if still ours) so a retry can deliver."""
    return bool(_run(client, "release", _RELEASE, [subject.key], [lease]))


def forget(client, uid: str, provider: str) -> int:
    """Remove every mark of a user and provider (the key works again); returns how many there were."""
    return int(_run(client, "recover", _RECOVER, [index_key(uid, provider)], []))
