"""`python -m functions replay`: dead letters back to the events topic, none lost on the way.

Events that failed every delivery (Redis down all night, a bad deploy) wait in the dead-letter
subscription. This pulls them in small synchronous batches, republishes each one to the events topic
with its data and attributes unchanged, and acknowledges a dead letter only after its republish was
confirmed (`future.result()`). A publish that fails leaves its dead letter in place (nacked, for the
next run) and stops the run. Ctrl-C (SIGINT) or SIGTERM stops cleanly: the batch whose publishes are
under way is finished (confirmed ones acknowledged, the rest nacked), nothing more is pulled, and a
second run replays the rest. Replays are safe to repeat: the notifier deduplicates per subject, so a
dead letter republished twice (its acknowledgement lost) still notifies once.

Too old: a dead letter whose event is older than MAX_EVENT_AGE_SECONDS (its `occurred_at`, else its
publish time, as the notifier judges it) is acknowledged without a republish and counted as skipped:
the notifier would drop it unheard anyway, and left in place it would come back on every replay
until the subscription's retention ends.

    python -m functions replay --subscription byok-llm-errors-dead-letter-keep [--max 100] [--dry-run]

Pub/Sub emulator when PUBSUB_EMULATOR_HOST is set, else the real project (Application Default
Credentials, roles/pubsub.subscriber on the subscription and roles/pubsub.publisher on the topic).
Output: one JSON line per dead letter (`message_id`, `outcome`: replayed, would_replay, skipped_too_old,
failed), then a summary line. Exit status 0; 1 when a publish failed; 130 when interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import datetime, timezone
from typing import Any, Callable

from .. import config
from ..event import InvalidEvent, parse_event
from .publish import DEFAULT_TOPIC, topic_path

REPLAYED, WOULD_REPLAY, TOO_OLD, FAILED = "replayed", "would_replay", "skipped_too_old", "failed"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def subscription_path(project: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/subscriptions/{name}"


def event_age(data: bytes, attributes: dict[str, str], publish_time: datetime | None, now: datetime) -> float | None:
    """Seconds since the event happened, as the notifier judges it; None when it cannot tell."""
    try:
        occurred = parse_event("replay-check", data, publish_time, 1 << 30, attributes).occurred_at
    except InvalidEvent:
        occurred = publish_time  # not a valid event: replayed unchanged, the notifier acknowledges it
    except Exception:  # noqa: BLE001 - an unexpected shape is not a reason to hold a dead letter back
        occurred = publish_time
    if occurred is None:
        return None
    return (now - occurred).total_seconds()


class Replayer:
    """One replay run: pull, republish, acknowledge; stop() asks it to finish the batch and return."""

    def __init__(self, subscriber, publisher, subscription: str, topic: str, max_age_seconds: int,
                 dry_run: bool = False, batch_size: int = 10, pull_timeout: float = 10.0,
                 publish_timeout: float = 30.0, emit: Callable[[dict[str, Any]], None] = _emit) -> None:
        self.subscriber, self.publisher = subscriber, publisher
        self.subscription, self.topic = subscription, topic
        self.max_age, self.dry_run = max_age_seconds, dry_run
        self.batch_size, self.pull_timeout, self.publish_timeout = batch_size, pull_timeout, publish_timeout
        self.emit = emit
        self.stopping = False
        self.counts = {REPLAYED: 0, WOULD_REPLAY: 0, TOO_OLD: 0, FAILED: 0, "pulled": 0}
        self.held: list[str] = []          # dry run: ack ids kept out of the next pulls until the end
        self.held_ids: set[str] = set()

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def _pull(self, n: int, immediately: bool = False) -> list:
        from google.api_core import exceptions as gexc

        request = {"subscription": self.subscription, "max_messages": n}
        if immediately:
            request["return_immediately"] = True  # only to confirm an empty pull: discouraged for every pull
        try:
            response = self.subscriber.pull(request=request, timeout=self.pull_timeout)
        except gexc.DeadlineExceeded:
            return []
        return list(response.received_messages)

    def _nack(self, ack_ids: list[str]) -> None:
        if ack_ids:
            self.subscriber.modify_ack_deadline(request={"subscription": self.subscription, "ack_ids": ack_ids,
                                                         "ack_deadline_seconds": 0})

    def run(self, limit: int | None = None) -> dict[str, int]:
        """Replay up to `limit` dead letters (all when None); returns the counts."""
        empty = 0
        try:
            while not self.stopping and (limit is None or self.counts["pulled"] < limit):
                want = self.batch_size if limit is None else min(self.batch_size, limit - self.counts["pulled"])
                # A pull waits up to pull_timeout for messages and may come back empty while some are
                # left: an empty one is confirmed by a second pull that does not wait.
                received = self._pull(want, immediately=empty > 0)
                if self.stopping:  # interrupted while pulling: give the batch back untouched
                    self._nack([r.ack_id for r in received])
                    break
                fresh = [r for r in received if r.message.message_id not in self.held_ids]
                if not fresh:  # nothing, or a dry run coming round to what it holds
                    self._nack([r.ack_id for r in received])
                    empty += 1
                    if empty >= 2:
                        break
                    continue
                empty = 0
                self._nack([r.ack_id for r in received if r.message.message_id in self.held_ids])
                if not self._batch(fresh):
                    break
        finally:
            self._nack(self.held)  # a dry run gives back everything it held, at the end
            self.held = []
        return self.counts

    def _batch(self, received: list) -> bool:
        """Handle one pulled batch; False when the run must stop (a publish failed)."""
        now = datetime.now(timezone.utc)
        pending, ack, nack = [], [], []
        for r in received:
            msg = r.message
            self.counts["pulled"] += 1
            attributes = dict(msg.attributes)
            publish_time = msg.publish_time if isinstance(msg.publish_time, datetime) else None
            if publish_time is not None and publish_time.tzinfo is None:
                publish_time = publish_time.replace(tzinfo=timezone.utc)
            age = event_age(msg.data, attributes, publish_time, now)
            line = {"message_id": msg.message_id, "age_seconds": None if age is None else int(age)}
            too_old = age is not None and age > self.max_age
            if self.dry_run:
                self.held.append(r.ack_id)
                self.held_ids.add(msg.message_id)
                self.counts[TOO_OLD if too_old else WOULD_REPLAY] += 1
                self.emit({**line, "outcome": TOO_OLD if too_old else WOULD_REPLAY})
                continue
            if too_old:
                self.counts[TOO_OLD] += 1
                self.emit({**line, "outcome": TOO_OLD})
                ack.append(r.ack_id)
                continue
            pending.append((r, line, self.publisher.publish(self.topic, msg.data, **attributes)))
        failed = False
        for r, line, future in pending:  # every publish of the batch is confirmed or failed before any ack
            try:
                new_id = future.result(timeout=self.publish_timeout)
            except Exception as exc:  # noqa: BLE001 - kept for the next run; say why
                failed = True
                self.counts[FAILED] += 1
                self.emit({**line, "outcome": FAILED, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
                nack.append(r.ack_id)
                continue
            self.counts[REPLAYED] += 1
            self.emit({**line, "outcome": REPLAYED, "new_message_id": new_id})
            ack.append(r.ack_id)
        if ack:
            self.subscriber.acknowledge(request={"subscription": self.subscription, "ack_ids": ack})
        self._nack(nack)
        return not failed


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m functions replay",
                                description="Republish dead letters to the events topic, acking each after its "
                                            "republish succeeded.")
    p.add_argument("--subscription", required=True, help="the dead-letter subscription (id or full path)")
    p.add_argument("--topic", default=os.environ.get("BYOK_TOPIC", DEFAULT_TOPIC),
                   help=f"events topic to republish to (default {DEFAULT_TOPIC}, or $BYOK_TOPIC)")
    p.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
                   help="project id (default $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--max", type=int, default=None, help="replay at most N dead letters (default: all)")
    p.add_argument("--batch-size", type=int, default=10, help="messages per pull (1-1000, default 10)")
    p.add_argument("--wait", type=float, default=10.0,
                   help="seconds a pull waits for messages before the run counts the subscription empty (default 10)")
    p.add_argument("--dry-run", action="store_true", help="pull and list, republish and acknowledge nothing")
    return p


def cli(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= 1000:
        parser.error("--batch-size must be between 1 and 1000")
    if not 0.5 <= args.wait <= 600:
        parser.error("--wait must be between 0.5 and 600 seconds")
    if args.max is not None and args.max < 1:
        parser.error("--max must be at least 1")
    if not args.project:
        print("error: no project: give --project or set GOOGLE_CLOUD_PROJECT", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = config.load({**os.environ, "GOOGLE_CLOUD_PROJECT": args.project}, need_redis=False)
    except config.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    from google.cloud import pubsub_v1

    where = os.environ.get("PUBSUB_EMULATOR_HOST") or "Google Cloud Pub/Sub"
    try:
        subscriber, publisher = pubsub_v1.SubscriberClient(), pubsub_v1.PublisherClient()
    except Exception as exc:  # noqa: BLE001 - no credentials and the like: say so, no traceback
        print(f"error: cannot create Pub/Sub clients for {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    sub, topic = subscription_path(args.project, args.subscription), topic_path(args.project, args.topic)
    replayer = Replayer(subscriber, publisher, sub, topic, settings.max_event_age_seconds, dry_run=args.dry_run,
                        batch_size=args.batch_size, pull_timeout=args.wait)
    previous = {s: signal.signal(s, replayer.stop) for s in (signal.SIGINT, signal.SIGTERM)}
    status = EXIT_OK
    try:
        counts = replayer.run(args.max)
    except Exception as exc:  # noqa: BLE001 - a pull or ack failed: what was not acked stays; rerun
        print(f"error: replay from {sub} on {where} failed: {type(exc).__name__}: {str(exc)[:300]}; "
              "unacknowledged dead letters stay in the subscription; it is safe to run again", file=sys.stderr)
        counts, status = replayer.counts, EXIT_FAILED
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        publisher.stop()
        subscriber.close()
    if status == EXIT_OK and counts[FAILED]:
        status = EXIT_FAILED
    if status == EXIT_OK and replayer.stopping:
        status = EXIT_INTERRUPTED
    _emit({"summary": True, "subscription": sub, "topic": topic, "dry_run": args.dry_run,
           "interrupted": replayer.stopping, **counts})
    return status
