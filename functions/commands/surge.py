"""`python -m functions surge`: the failures held as one fault (functions/surge.py), and lifting a hold.

    python -m functions surge                       one JSON line per group with users in the last two windows
    python -m functions surge release --provider openai --reason quota_exhausted --rule openai.insufficient_quota
                                                    [--hours 24]: the failures are real, tell the users
    python -m functions surge restore ...           the same options: end a release early

A release lets the group's next failures through for --hours; the users held meanwhile are told by their next
failure once their hold's mark ends (at most SURGE_WINDOW_SECONDS). Reads REDIS_URL like the notifier.
Exit status 0, 2 for bad configuration, 1 when Redis fails.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .. import config, surge


def _emit(line: dict) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions surge",
                                     description="List the failures held as one fault, or lift a hold.")
    parser.add_argument("action", nargs="?", choices=("list", "release", "restore"), default="list")
    parser.add_argument("--provider", help="provider slug, as in the held log lines")
    parser.add_argument("--reason", choices=("invalid_key", "permission_denied", "quota_exhausted"))
    parser.add_argument("--rule", help="the rule id of the held log lines (`-` for none)")
    parser.add_argument("--hours", type=float, default=24.0, help="how long a release lasts (default 24)")
    parser.add_argument("--shadow", action="store_true", help="the groups of DELIVERY_MODE=shadow")
    args = parser.parse_args(argv)
    if args.action != "list" and not (args.provider and args.reason and args.rule):
        parser.error(f"{args.action} needs --provider, --reason and --rule (from the held log lines)")
    if not 0 < args.hours <= 24 * 30:
        parser.error("--hours must be more than 0 and at most 720")
    try:
        settings = config.load(os.environ)
    except config.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    from .. import clients

    rule = None if args.rule == "-" else args.rule
    try:
        redis = clients.redis_client()
        if args.action == "release":
            key = surge.release(redis, args.provider, args.reason, rule, int(args.hours * 3600), args.shadow)
            _emit({"released": True, "provider": args.provider, "reason": args.reason, "rule": rule,
                   "seconds": int(args.hours * 3600), "key": key})
        elif args.action == "restore":
            _emit({"restored": surge.restore(redis, args.provider, args.reason, rule, args.shadow),
                   "provider": args.provider, "reason": args.reason, "rule": rule})
        else:
            groups = surge.active(redis, settings.surge_window_seconds)
            for g in groups:
                held = surge.Count(g["users"], bool(g["released_for_seconds"])).holds(settings.surge_users)
                _emit({**g, "holding": held})
            _emit({"summary": True, "groups": len(groups), "threshold": settings.surge_users,
                   "window_seconds": settings.surge_window_seconds})
    except Exception as exc:  # noqa: BLE001 - report and fail
        print(f"surge {args.action} failed ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 1
    return 0
