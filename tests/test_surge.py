"""Many users failing the same way at once are held as one fault (functions/surge.py), against real Redis,
the Firestore emulator and the local FCM server."""
from __future__ import annotations

import io
import json
import uuid

import pytest

from functions import config, dedup, notify, surge
from functions.__main__ import main as cli_main
from functions.commands import report
from tests import helpers
from tests.helpers import INVALID_KEY_ERROR, event

RULE = "openai.insufficient_quota"   # what QUOTA_ERROR is decided by


@pytest.fixture
def world(env, redis_db, firestore_db, fcm, monkeypatch):
    notify._DUPLICATES.__init__()
    monkeypatch.setenv("SURGE_USERS", "3")
    config.reset()

    class World(helpers.NotifierWorld):
        def user(self, tag: str = "") -> str:
            uid = f"user-{tag}{uuid.uuid4().hex[:10]}"
            self.db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
            return uid

        def expire(self, key: str) -> None:
            """The mark's time is up: gone from Redis and from this process's cache of marks."""
            self.redis.delete(key)
            dedup.MARKS.clear()

        def pushed_to(self) -> list[str]:
            return [m["message"]["token"] for m in self.server.delivered()]

    return World(redis_db, firestore_db, fcm, monkeypatch)


def test_past_the_threshold_the_same_failure_is_held_and_no_one_else_is_told(world, capsys):
    users = [world.user() for _ in range(6)]
    outcomes = [world.handle(event(u)) for u in users]

    assert outcomes == ["sent"] * 3 + ["held"] * 3
    assert world.pushed_to() == [f"tok-{u}" for u in users[:3]]
    assert [world.status(u) is not None for u in users] == [True] * 3 + [False] * 3   # no banner either
    out = capsys.readouterr().out
    held = [line for line in helpers.log_lines(out) if line.get("outcome") == "held"]
    assert [line["uid"] for line in held] == users[3:]
    assert {line["severity"] for line in held} == {"ERROR"}
    assert [line["surge_users"] for line in held] == [4, 5, 6]
    assert {(line["rule"], line["reason"], line["surge_threshold"]) for line in held} == {(RULE, "quota_exhausted", 3)}
    # the operator's report of these very lines names the group and how far it went
    summary = report.build([out]).summary()
    assert summary["held"] == [{"provider": "openai", "reason": "quota_exhausted", "rule": RULE, "count": 3,
                                "most_users": 6}]
    table = io.StringIO()
    report.render(summary, table)
    assert "held as one fault" in table.getvalue() and RULE in table.getvalue()


def test_a_held_user_is_quiet_for_one_window_then_judged_again(world):
    users = [world.user() for _ in range(4)]
    assert [world.handle(event(u)) for u in users][-1] == "held"
    key = dedup.Subject(users[3], "openai", "quota_exhausted").key
    assert world.redis.get(key).startswith(b"M|held|")
    assert 590 < world.redis.ttl(key) <= 600          # one SURGE_WINDOW_SECONDS, not the day's dedup window
    assert world.handle(event(users[3])) == "suppressed"

    world.expire(key)                                # the hold's window ends while the surge still goes on
    assert world.handle(event(users[3])) == "held"

    world.expire(key)                                # ... and once the surge is over, the failure is told
    for name in world.redis.scan_iter(match=f"{surge.PREFIX}:*"):
        world.redis.delete(name)
    assert world.handle(event(users[3])) == "sent"
    assert world.pushed_to()[-1] == f"tok-{users[3]}"


def test_a_backlog_is_counted_by_when_each_call_failed_not_when_it_arrives(world):
    """A retried outage or a replay hands over, at once, failures that happened over hours: not a surge. Failures
    that did happen within minutes are one, however late they arrive."""
    spread = [world.user() for _ in range(8)]
    assert [world.handle(event(u, occurred_at=helpers.now_rfc3339(-1800 * i))) for i, u in enumerate(spread)] == \
        ["sent"] * 8                                  # one failure every half hour, handled now
    burst = [world.user() for _ in range(5)]
    long_ago = [world.handle(event(u, occurred_at=helpers.now_rfc3339(-60000 - i))) for i, u in enumerate(burst)]
    assert long_ago == ["sent"] * 3 + ["held"] * 2   # within seconds of each other, 17 hours ago


def test_each_provider_reason_and_rule_is_its_own_group(world):
    for u in [world.user() for _ in range(4)]:
        world.handle(event(u))
    other_rule = world.user()
    assert world.handle(event(other_rule, error=INVALID_KEY_ERROR)) == "sent"
    other_provider = world.user()
    assert world.handle(event(other_provider, provider="anthropic", error={
        "status_code": 400, "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API."})) == "sent"


def test_one_user_failing_often_is_one_user(world):
    u = world.user()
    assert world.handle(event(u)) == "sent"
    for n in range(5):                                # duplicates are never counted again (they stop before)
        assert world.handle(event(u)) == "suppressed"
    world.expire(dedup.Subject(u, "openai", "quota_exhausted").key)
    assert world.handle(event(u)) == "sent"           # counted again, still one user
    assert surge.count(world.redis, "openai", "quota_exhausted", RULE, u, 600).users == 1


def test_an_operator_release_lets_the_failures_through(world, capsys):
    for u in [world.user() for _ in range(4)]:
        world.handle(event(u))
    capsys.readouterr()
    assert cli_main(["surge"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"provider": "openai", "reason": "quota_exhausted", "rule": RULE, "users": 4,
                        "released_for_seconds": 0, "shadow": False, "holding": True}
    assert lines[-1]["summary"] and lines[-1]["threshold"] == 3 and lines[-1]["window_seconds"] == 600

    assert cli_main(["surge", "release", "--provider", "openai", "--reason", "quota_exhausted", "--rule", RULE,
                     "--hours", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["seconds"] == 7200
    late = world.user()
    assert world.handle(event(late)) == "sent"
    assert cli_main(["surge"]) == 0
    listed = [line for line in map(json.loads, capsys.readouterr().out.splitlines()) if "severity" not in line][0]
    assert listed["holding"] is False and 7190 < listed["released_for_seconds"] <= 7200

    assert cli_main(["surge", "restore", "--provider", "openai", "--reason", "quota_exhausted", "--rule", RULE]) == 0
    assert json.loads(capsys.readouterr().out)["restored"] is True
    assert world.handle(event(world.user())) == "held"


def test_the_command_refuses_a_release_without_its_group(world, capsys):
    with pytest.raises(SystemExit):
        cli_main(["surge", "release", "--provider", "openai"])
    assert "needs --provider, --reason and --rule" in capsys.readouterr().err


def test_a_recovery_clears_the_hold_like_any_mark(world):
    users = [world.user() for _ in range(4)]
    for u in users:
        world.handle(event(u))
    recovered = event(users[3], kind="recovered")
    del recovered["error"]
    assert world.handle(recovered) == "recovered"
    assert world.redis.get(dedup.Subject(users[3], "openai", "quota_exhausted").key) is None


def test_off_when_the_threshold_is_zero(world):
    world.setenv("SURGE_USERS", "0")
    assert [world.handle(event(world.user())) for _ in range(5)] == ["sent"] * 5
    assert list(world.redis.scan_iter(match=f"{surge.PREFIX}:*")) == []   # and it costs no Redis command


def test_shadow_mode_holds_in_its_own_key_space(world):
    world.setenv("DELIVERY_MODE", "shadow")
    assert [world.handle(event(world.user())) for _ in range(4)] == ["would_send"] * 3 + ["held"]
    world.setenv("DELIVERY_MODE", "live")
    assert world.handle(event(world.user())) == "sent"      # live counts start from zero
    assert world.server.delivered() and len(world.server.delivered()) == 1


def test_redis_failing_at_the_count_releases_the_lease_and_retries(world, monkeypatch):
    # Redis answering the lease and then failing is not something the real server does on demand;
    # test_notify's Redis-down test covers the real outage before the lease.
    def down(*args, **kwargs):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(surge, "count", down)
    u = world.user()
    with pytest.raises(notify.RetryLater):
        world.handle(event(u))
    assert world.redis.get(dedup.Subject(u, "openai", "quota_exhausted").key) is None
    assert world.server.delivered() == []


def test_the_count_is_of_distinct_users_over_two_buckets(redis_db):
    now = 1_000_000 * 600 + 30.0
    for uid in ("a", "b", "a"):
        surge.count(redis_db, "openai", "invalid_key", "openai.invalid_api_key", uid, 600, at=now - 600)
    assert surge.count(redis_db, "openai", "invalid_key", "openai.invalid_api_key", "c", 600, at=now).users == 3
    assert surge.count(redis_db, "openai", "invalid_key", "openai.invalid_api_key", "a", 600, at=now).users == 3
    # two buckets later the first one is no longer counted
    assert surge.count(redis_db, "openai", "invalid_key", "openai.invalid_api_key", "d", 600,
                       at=now + 600).users == 3   # c, a (bucket n) and d
    assert surge.count(redis_db, "openai", "invalid_key", "openai.invalid_api_key", "e", 600,
                       at=now + 1200).users == 2  # d and e
    name = surge.group("openai", "invalid_key", "openai.invalid_api_key")
    assert 0 < redis_db.pttl(f"{name}:{1_000_000 + 2}") <= 1_200_000


def test_the_group_keys_share_one_hash_slot():
    from redis.crc import key_slot
    name = surge.group("openai", "quota_exhausted", "openai.insufficient_quota")
    slots = {key_slot(f"{name}:{suffix}".encode()) for suffix in ("999", "1000", "release")}
    assert len(slots) == 1
    assert surge.group("openai", "invalid_key", None).endswith(":invalid_key:-}")


@pytest.mark.parametrize("users,released,threshold,holds", [
    (4, False, 3, True), (3, False, 3, False), (9, True, 3, False), (100, False, 0, False)])
def test_a_count_holds_only_past_the_threshold_and_without_a_release(users, released, threshold, holds):
    assert surge.Count(users, released).holds(threshold) is holds


def test_a_bucket_stops_growing_at_its_cap_and_still_holds(redis_db, monkeypatch):
    monkeypatch.setattr(surge, "COUNT_CAP", 3)
    counts = [surge.count(redis_db, "openai", "invalid_key", "r", f"u{n}", 600, at=1_000_000.0).users
              for n in range(6)]
    assert counts == [1, 2, 3, 3, 3, 3]
    assert redis_db.scard(f"{surge.group('openai', 'invalid_key', 'r')}:{int(1_000_000 // 600)}") == 3
    assert surge.Count(counts[-1], False).holds(2)
