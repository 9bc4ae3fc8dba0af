"""The local stack's live feed: one line per step, derived from what the parts really did.

Sources: the notifier's and the cleanup function's JSON log lines (functions-framework's stdout, in
log files) and the FCM server's inbox. The notifier writes one line per event, at the end, so the
steps of an event (received, classified, outcome, pushes delivered, tokens marked) are printed
together when that line appears; pushes the FCM server saw wait (briefly) for their event's line so
they print under it. Tokens are never printed, only device names.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

HOLD_SECONDS = 2.0  # how long a push waits for its event's log line before it is printed alone


class LogTail:
    """New complete lines of a growing file."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return []
        self.offset += len(chunk)
        data = self.partial + chunk
        *complete, self.partial = data.split(b"\n")
        return [line.decode(errors="replace") for line in complete]


def json_lines(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
    return out


def describe_error(line: dict) -> str:
    parts = [str(line[k]) for k in ("status_code", "error_code", "error_type") if line.get(k) is not None]
    return " ".join(parts) or "no status"


class Feed:
    """Polls the sources and prints the steps; keeps what it saw for the demo's verdict."""

    def __init__(self, notifier_log: Path, cleanup_log: Path, fcm, out: Callable[[str], None] = print) -> None:
        self.notifier = LogTail(notifier_log)
        self.cleanup = LogTail(cleanup_log)
        self.fcm = fcm
        self.out = out
        self.seen_inbox = 0
        self.pending: list[tuple[float, dict]] = []
        self.notifier_lines: list[dict] = []
        self.cleanup_lines: list[dict] = []

    # -- what happened, for the demo ------------------------------------------------------------
    def outcomes(self) -> dict[str, list[str]]:
        """event id -> the notifier's outcomes for it, in order (a redelivery adds one)."""
        result: dict[str, list[str]] = {}
        for line in self.notifier_lines:
            if line.get("outcome") and line.get("event_id"):
                result.setdefault(str(line["event_id"]), []).append(line["outcome"])
        return result

    def deleted_documents(self) -> set[str]:
        return {line["document"] for line in self.cleanup_lines
                if line.get("outcome") == "deleted" and line.get("document")}

    # -- printing -------------------------------------------------------------------------------
    def _say(self, who: str, text: str) -> None:
        self.out(f"{time.strftime('%H:%M:%S')}  {who:<8}  {text}")

    def _device(self, token: str) -> str:
        owners: dict = {}
        tracker = getattr(getattr(self.fcm, "observers", None), "tokens", None)
        if tracker is not None:
            owners = tracker.snapshot()[1]
        uid, device = owners.get(token, (None, None))
        return f"{uid}/{device}" if uid else f"device with token {token[:10]}..."

    def _push(self, entry: dict) -> None:
        message = entry.get("message") or {}
        target = message.get("token") or message.get("fid") or ""
        title = (message.get("notification") or {}).get("title")
        if entry.get("status") == 200:
            self._say("fcm", f"push delivered to {self._device(target)}: \"{title}\"")
        else:
            self._say("fcm", f"push rejected for {self._device(target)}: {entry.get('status')} "
                             f"{_fcm_code(entry)}")

    def _flush_pending(self, older_than: float | None = None) -> None:
        keep = []
        for seen_at, entry in self.pending:
            if older_than is None or seen_at <= older_than:
                self._push(entry)
            else:
                keep.append((seen_at, entry))
        self.pending = keep

    def _notifier_line(self, line: dict) -> None:
        outcome = line.get("outcome")
        if not outcome:
            if line.get("severity") in ("WARNING", "ERROR", "CRITICAL"):
                self._say("notifier", f"{line.get('severity').lower()}: {line.get('message')}")
            return
        self.notifier_lines.append(line)
        event = line.get("event_id", "?")
        who = f"uid={line.get('uid')} provider={line.get('provider')}" if line.get("uid") else ""
        self._say("notifier", f"event {event} received {who}".rstrip())
        reason = line.get("reason")
        if outcome == "invalid_event":
            self._say("notifier", f"  invalid event, acknowledged: {line.get('problem')}")
            return
        if outcome == "expired":
            self._say("notifier", f"  too old ({line.get('age_seconds')} s): acknowledged, no push")
            return
        if outcome == "not_actionable":
            self._say("notifier", f"  classified: not actionable ({describe_error(line)})")
            self._say("notifier", "  not actionable: acknowledged, no push")
            return
        if outcome == "recovered":
            self._say("notifier", f"  recovered: the key works again; {line.get('cleared', 0)} alert mark(s) cleared")
            return
        self._say("notifier", f"  classified: {reason}")
        if outcome == "suppressed":
            self._say("notifier", "  suppressed (dedup): this user was already told, or is being told right now")
        elif outcome == "sent":
            self._say("notifier", f"  sent{' (reminder)' if line.get('reminder') else ''}: "
                                  f"{line.get('accepted')} of {line.get('targets')} device(s) accepted"
                                  + (f", {line.get('dead')} dead" if line.get("dead") else ""))
        elif outcome == "muted":
            self._say("notifier", "  muted: the user turned these alerts off; in-app status only, no push")
        elif outcome == "no_targets":
            self._say("notifier", f"  no device to notify (targets: {line.get('targets', 0)})")
        elif outcome == "retry":
            self._say("notifier", f"  not delivered ({line.get('cause')}): Pub/Sub will retry")
        else:
            self._say("notifier", f"  {outcome}")
        if outcome in ("sent", "no_targets", "retry"):
            self._flush_pending()
        for marked in line.get("devices_marked") or []:
            device, _, result = str(marked).partition(":")
            if result == "marked":
                self._say("notifier", f"  token marked invalid: {line.get('uid')}/{device}")
            elif result == "cleared":
                self._say("notifier", f"  legacy token field cleared: {line.get('uid')}")

    def _cleanup_line(self, line: dict) -> None:
        outcome = line.get("outcome")
        if not outcome:
            return
        self.cleanup_lines.append(line)
        document = line.get("document", "?")
        if outcome == "deleted":
            self._say("cleanup", f"token deleted: {document} ({line.get('invalid_reason')})")
        elif outcome == "kept_reregistered":
            self._say("cleanup", f"token kept: {document} re-registered since it was marked")
        elif outcome in ("invalid_event", "retry"):
            self._say("cleanup", f"{outcome}: {line.get('message')}")
        # "ignored" (a write that is not a dead token) is not a step worth a line

    def poll(self, flush: bool = False) -> None:
        """Read every source once and print the new steps."""
        now = time.monotonic()
        if self.fcm is not None:
            with self.fcm.state.lock:
                inbox = list(self.fcm.state.inbox)
            if len(inbox) < self.seen_inbox:
                self.seen_inbox = 0  # the inbox was cleared
            for entry in inbox[self.seen_inbox:]:
                self.pending.append((now, entry))
            self.seen_inbox = len(inbox)
        for line in json_lines(self.notifier.lines()):
            self._notifier_line(line)
        self._flush_pending(None if flush else now - HOLD_SECONDS)
        for line in json_lines(self.cleanup.lines()):
            self._cleanup_line(line)


def _fcm_code(entry: dict) -> str:
    from devstack.fcm_server import ERRORS

    return ERRORS.get(entry.get("behaviour"), (0, "", entry.get("behaviour") or "?"))[2]

