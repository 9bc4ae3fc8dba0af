"""Hold an alarm that many users get at the same moment: one fault, not many broken keys.

Users' keys break one at a time (a revoked key, a spent balance). When many distinct users' calls to one
provider fail with the same documented error within minutes, the likelier cause is one fault for all of them:
our platform sending keys wrong (a bad deploy, a decryption or configuration bug), or the provider answering
wrongly (an incident that returns `insufficient_quota` to paying accounts). Telling each user "your key is
broken" then is the false alarm that costs their trust, so past SURGE_USERS distinct users in a window the
notifier holds instead of telling, and logs each hold as an ERROR for the developers.

A hold is not a lost notification: the hold's mark lasts one window, after which a user whose key really is
broken is told by their next failure, unless the surge still goes on; an operator who finds the failures real
lifts the hold for that provider and rule (`python -m functions surge release`), and a recovery clears it.

Counting: by when each call failed (the event's `occurred_at`), one set of user ids per (provider, reason, rule)
and window bucket; the distinct users of that bucket and the one before (SCARD of each, less SINTERCARD: a window
that slides by whole buckets). Exact, so a threshold of 25 means 25; a bucket stops growing at COUNT_CAP users
(past any sensible threshold), which bounds its memory in the largest surge. One Lua call adds the user, counts
and reads the operator's release: one round trip, made only by an event that would otherwise deliver (a first
notification), never by a duplicate. The keys share a hash tag, so the call works on Redis Cluster too (SINTERCARD:
Redis 7.0, which the dedup protocol needs already).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

from . import dedup

PREFIX = f"{dedup.KEY_PREFIX}:surge"
COUNT_CAP = 10_000   # users kept per bucket: past it the count says "at least", and the group holds anyway

# KEYS[1] this bucket, KEYS[2] the previous bucket, KEYS[3] the operator's release; ARGV[1] the user, ARGV[2]
# the bucket's ttl in ms, ARGV[3] the cap. Returns {distinct users of both buckets, release present (0/1)}.
_COUNT = """
if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('SADD', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local here, before = redis.call('SCARD', KEYS[1]), redis.call('SCARD', KEYS[2])
local both = 0
if before > 0 then
  both = redis.call('SINTERCARD', 2, KEYS[1], KEYS[2])
end
return {here + before - both, redis.call('EXISTS', KEYS[3])}
"""


@dataclass(frozen=True)
class Count:
    users: int       # distinct users of the group in the last one to two windows (at least, past COUNT_CAP)
    released: bool   # an operator lifted the hold for this group

    def holds(self, threshold: int) -> bool:
        """True when this event is past the threshold and no operator lifted the hold."""
        return bool(threshold) and self.users > threshold and not self.released


def group(provider: str, reason: str, rule: str | None, shadow: bool = False) -> str:
    """The hash-tagged name of one kind of failure: the same documented error at the same provider."""
    space = "shadow:" if shadow else ""
    return f"{PREFIX}:{{{space}{quote(provider, safe='')}:{reason}:{quote(rule or '-', safe='')}}}"


def count(client, provider: str, reason: str, rule: str | None, uid: str, window_seconds: int,
          shadow: bool = False, at: float | None = None) -> Count:
    """Add this user to the window of `at` (when their call failed: unix seconds, default now) and count the
    distinct users of that window and the one before.

    By the failure's time, not the time it is handled: a backlog that a retried outage or a replay releases at
    once holds failures that happened over hours, and is not a surge for that."""
    name = group(provider, reason, rule, shadow)
    bucket = int((time.time() if at is None else at) // window_seconds)
    users, released = dedup.run_script(client, "surge_count", _COUNT,
                                       [f"{name}:{bucket}", f"{name}:{bucket - 1}", f"{name}:release"],
                                       [uid, 2 * window_seconds * 1000, COUNT_CAP])
    return Count(int(users), bool(released))


def release(client, provider: str, reason: str, rule: str | None, seconds: int, shadow: bool = False) -> str:
    """Lift the hold of one group for `seconds` (the operator found the failures real); returns the key."""
    key = f"{group(provider, reason, rule, shadow)}:release"
    client.set(key, str(int(time.time())), ex=seconds)
    return key


def restore(client, provider: str, reason: str, rule: str | None, shadow: bool = False) -> bool:
    """End an operator's release early; True when there was one."""
    return bool(client.delete(f"{group(provider, reason, rule, shadow)}:release"))


def active(client, window_seconds: int, now: float | None = None) -> list[dict]:
    """Every group with users in the last two windows: for the operator's `surge` command."""
    bucket = int((time.time() if now is None else now) // window_seconds)
    names: set[str] = set()
    for raw in client.scan_iter(match=f"{PREFIX}:*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        name, _, tail = key.rpartition(":")
        if tail == "release" or (tail.isdigit() and int(tail) in (bucket, bucket - 1)):
            names.add(name)
    out = []
    for name in sorted(names):
        inner = name[name.index("{") + 1:name.rindex("}")]
        shadow = inner.startswith("shadow:")
        provider, reason, rule = inner.removeprefix("shadow:").split(":", 2)
        here, before = f"{name}:{bucket}", f"{name}:{bucket - 1}"
        users = int(client.scard(here)) + int(client.scard(before)) - int(client.sintercard(2, [here, before]))
        ttl = client.ttl(f"{name}:release")
        out.append({"provider": unquote(provider), "reason": reason, "rule": None if rule == "-" else unquote(rule),
                    "users": users, "released_for_seconds": ttl if ttl and ttl > 0 else 0, "shadow": shadow})
    return out
