"""`python -m functions publish`: publish one error event to the topic, by hand or from operations.

The event is built from flags or read from a JSON file, then checked with the notifier's own contract
validation (functions/event.py, contract v1: schemas/byok-error-event.v1.json) before anything is
sent, so what this command publishes is what the notifier accepts. It goes to the Pub/Sub emulator
when PUBSUB_EMULATOR_HOST is set, else to the real project with Application Default Credentials.
Prints the message id.

    python -m functions publish --uid u1 --provider openai --status 429 --code insufficient_quota \
        --message "You exceeded your current quota"
    python -m functions publish --uid u1 --provider openai --recovered   # the key works again
    python -m functions publish --file event.json          # or --file - for stdin
    python -m functions publish ... --dry-run              # print the validated event, publish nothing
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any

from ..event import InvalidEvent, parse_event

DEFAULT_TOPIC = "byok-llm-errors"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_event(uid: str, provider: str, status: int | None = None, code: str | None = None,
                message: str | None = None, type_: str | None = None, fingerprint: str | None = None,
                feature: str | None = None, model: str | None = None, operation: str | None = None,
                occurred_at: str | None = None, body: Any = None, kind: str = "error") -> dict[str, Any]:
    """A contract v1 event from its parts (None fields are left out; a recovery needs no error)."""
    error: dict[str, Any] = {}
    for name, value in (("status_code", status), ("type", type_), ("code", code), ("message", message),
                        ("body", body)):
        if value is not None:
            error[name] = value
    event: dict[str, Any] = {"version": 1, "kind": kind, "uid": uid, "provider": provider,
                             "occurred_at": occurred_at or now_rfc3339()}
    if error or kind != "recovered":
        event["error"] = error
    for name, value in (("key_fingerprint", fingerprint), ("feature", feature), ("model", model),
                        ("operation", operation)):
        if value is not None:
            event[name] = value
    return event


def encode(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Validate against contract v1 and return the message data and attributes; raises InvalidEvent."""
    if not isinstance(event, dict):
        raise InvalidEvent("the event must be a JSON object")
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    parsed = parse_event("publish-check", data)
    attributes = {"version": "1", "kind": parsed.kind, "provider": parsed.provider}
    status = parsed.error.get("status_code")
    if isinstance(status, int):
        attributes["status_code"] = str(status)
    code = parsed.error.get("code")
    if isinstance(code, str) and code:
        attributes["code"] = code[:128]
    return data, attributes


def topic_path(project: str, topic: str) -> str:
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


class Publisher:
    """One Pub/Sub publisher client (emulator or real), reused for many events."""

    def __init__(self, project: str, topic: str = DEFAULT_TOPIC) -> None:
        from google.cloud import pubsub_v1

        self.path = topic_path(project, topic)
        self.client = pubsub_v1.PublisherClient()

    def publish(self, event: dict[str, Any], timeout: float = 30.0) -> str:
        """Validate and publish one event; returns the Pub/Sub message id."""
        data, attributes = encode(event)
        return self.client.publish(self.path, data, **attributes).result(timeout=timeout)

    def close(self) -> None:
        self.client.stop()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m functions publish",
                                description="Publish one BYOK error event (contract v1) to the topic.")
    src = p.add_argument_group("the event, from flags")
    src.add_argument("--uid", help="Firebase uid of the user")
    src.add_argument("--provider", help="provider slug: openai, anthropic, gemini, openrouter, deepgram, ...")
    src.add_argument("--status", type=int, help="HTTP status of the failed call, e.g. 429 (or a WebSocket close "
                     "code, e.g. 1008)")
    src.add_argument("--code", help="the provider's error code, e.g. insufficient_quota")
    src.add_argument("--message", help="the error message (str(exception)); keys in it are the caller's "
                                       "problem: redact before publishing")
    src.add_argument("--type", dest="type_", help="the exception type, e.g. RateLimitError")
    src.add_argument("--body", help="the provider's error body, as JSON text")
    src.add_argument("--fingerprint", help="key_fingerprint: a hash of the key, never the key")
    src.add_argument("--feature")
    src.add_argument("--model")
    src.add_argument("--operation")
    src.add_argument("--occurred-at", help="RFC 3339 time of the failure (default: now)")
    src.add_argument("--recovered", action="store_true",
                     help="publish kind=recovered: the user's key works again (clears the alert state)")
    p.add_argument("--file", help="read the whole event from this JSON file ('-' for stdin) instead of flags")
    p.add_argument("--topic", default=os.environ.get("BYOK_TOPIC", DEFAULT_TOPIC),
                   help=f"topic id or full path (default {DEFAULT_TOPIC}, or $BYOK_TOPIC)")
    p.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT"),
                   help="project id (default $GOOGLE_CLOUD_PROJECT)")
    p.add_argument("--dry-run", action="store_true", help="validate and print the event; publish nothing")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the publish (default 30)")
    return p


def _event_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    if args.file:
        flags = [f for f in ("uid", "provider", "status", "code", "message", "type_", "body", "fingerprint",
                             "feature", "model", "operation", "occurred_at") if getattr(args, f) is not None]
        flags += ["recovered"] if args.recovered else []
        if flags:
            parser.error("--file cannot be combined with event flags: " +
                         ", ".join("--" + f.rstrip("_").replace("_", "-") for f in flags))
        try:
            text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
        except OSError as exc:
            raise InvalidEvent(f"cannot read {args.file}: {exc.strerror}") from None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InvalidEvent(f"{args.file} is not JSON: {exc.msg} (line {exc.lineno})") from None
    if not args.uid or not args.provider:
        parser.error("give --uid and --provider (and the error: --status --code --message ...), or --file")
    body = None
    if args.body is not None:
        try:
            body = json.loads(args.body)
        except ValueError:
            raise InvalidEvent("--body is not JSON") from None
    return build_event(args.uid, args.provider, args.status, args.code, args.message, args.type_,
                       args.fingerprint, args.feature, args.model, args.operation, args.occurred_at, body,
                       kind="recovered" if args.recovered else "error")


def cli(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        event = _event_from_args(args, parser)
        encode(event)
    except InvalidEvent as exc:
        print(f"error: the event breaks contract v1: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        print(json.dumps(event, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not args.project:
        print("error: no project: give --project or set GOOGLE_CLOUD_PROJECT", file=sys.stderr)
        return EXIT_USAGE
    target = os.environ.get("PUBSUB_EMULATOR_HOST")
    where = f"the emulator at {target}" if target else "Google Cloud Pub/Sub"
    try:
        publisher = Publisher(args.project, args.topic)
    except Exception as exc:  # noqa: BLE001 - no credentials and the like: say so, no traceback
        print(f"error: cannot create a Pub/Sub client for {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        message_id = publisher.publish(event, timeout=args.timeout)
    except Exception as exc:  # noqa: BLE001
        from google.api_core import exceptions as gexc

        hint = ""
        if isinstance(exc, gexc.NotFound):
            hint = " (the topic does not exist: is the local stack running? ./dev.sh creates it)"
        print(f"error: publish to {publisher.path} on {where} failed: {type(exc).__name__}: "
              f"{str(exc)[:300]}{hint}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        publisher.close()
    print(message_id)
    return EXIT_OK

