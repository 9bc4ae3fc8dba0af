"""`python -m functions report [FILE|-]`: what the functions did, read back from their JSON log lines.

It answers the questions a shadow rollout and an incident ask: what happened to the events (outcomes
per provider and reason), where the classifier may have a gap (the most frequent `not_actionable`
status/code pairs), what shadow mode would have sent (`would_send` samples), why deliveries were
retried, and how long a handled event took (p50/p95/p99 of `latency_ms`).

Input, any mix, detected per file or line:
- the raw stdout lines the functions write (one JSON object per line; other lines, such as
  functions-framework's own, are counted as junk and skipped);
- `gcloud logging read ... --format=json` output: one JSON array of LogEntry objects (`jsonPayload`);
- Cloud Logging exports (to Cloud Storage or BigQuery as JSON): one LogEntry per line.

    gcloud logging read 'resource.type="cloud_run_revision" AND jsonPayload.function="notify_byok_llm_error"' \\
        --project=PROJECT --format=json --freshness=7d > logs.json
    python -m functions report logs.json          # a readable table
    python -m functions report --json - < logs.json

Everything printed goes through functions.redact, as the log lines did when they were written.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, TextIO

from ..redact import redact

NOTIFIER = "notify_byok_llm_error"
TOP_PAIRS = 15


@dataclass
class Report:
    """Counts gathered from log records; `summary()` is what gets printed."""

    samples: int = 10
    records: int = 0                 # log records with an outcome
    other: int = 0                   # JSON log records without an outcome (warnings about side effects)
    junk: int = 0                    # lines that are not JSON objects (or not log records)
    outcomes: Counter = field(default_factory=Counter)            # (function, outcome)
    by_subject: Counter = field(default_factory=Counter)          # (provider, reason, outcome), notifier
    not_actionable: Counter = field(default_factory=Counter)      # (provider, status_code, code, type)
    retries: Counter = field(default_factory=Counter)             # cause
    held: dict = field(default_factory=dict)                      # (provider, reason, rule) -> [events, most users]
    would_send: list = field(default_factory=list)
    would_send_total: int = 0
    latencies: dict = field(default_factory=dict)                 # outcome -> [ms]
    first: str | None = None
    last: str | None = None

    def add(self, payload: dict[str, Any], timestamp: str | None = None) -> None:
        outcome = payload.get("outcome")
        if not isinstance(outcome, str):
            self.other += 1
            return
        self.records += 1
        if isinstance(timestamp, str):
            self.first = timestamp if self.first is None or timestamp < self.first else self.first
            self.last = timestamp if self.last is None or timestamp > self.last else self.last
        function = payload.get("function") if isinstance(payload.get("function"), str) else "unknown"
        self.outcomes[(function, outcome)] += 1
        if function != NOTIFIER:
            return
        provider = _word(payload.get("provider"))
        reason = _word(payload.get("reason"))
        self.by_subject[(provider, reason, outcome)] += 1
        if outcome == "not_actionable":
            status = payload.get("status_code")
            self.not_actionable[(provider, status if isinstance(status, int) else None,
                                 _word(payload.get("error_code")), _word(payload.get("error_type")))] += 1
        elif outcome == "held":
            users = payload.get("surge_users")
            group = self.held.setdefault((provider, reason, _word(payload.get("rule"))), [0, 0])
            group[0] += 1
            group[1] = max(group[1], users if type(users) is int else 0)
        elif outcome == "retry":
            self.retries[_word(payload.get("cause")) or "unknown"] += 1
        elif outcome == "would_send":
            self.would_send_total += 1
            if len(self.would_send) < self.samples:
                self.would_send.append({k: payload.get(k) for k in (
                    "event_id", "uid", "provider", "reason", "rule", "targets", "would_push", "would_email", "muted")
                    if payload.get(k) is not None}
                    | ({"timestamp": timestamp} if timestamp else {}))
        latency = payload.get("latency_ms")
        if isinstance(latency, (int, float)) and not isinstance(latency, bool) and math.isfinite(latency):
            self.latencies.setdefault(outcome, []).append(float(latency))

    def summary(self) -> dict[str, Any]:
        """The report as plain data (lists, not dicts keyed by log values), redacted."""
        every = sorted(v for values in self.latencies.values() for v in values)
        latency = {"all": _percentiles(every)}
        for outcome, values in sorted(self.latencies.items()):
            latency[outcome] = _percentiles(sorted(values))
        out = {
            "records": self.records, "other_records": self.other, "junk_lines": self.junk,
            "first": self.first, "last": self.last,
            "outcomes": [{"function": f, "outcome": o, "count": n}
                         for (f, o), n in sorted(self.outcomes.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))],
            "by_provider_reason": [{"provider": p, "reason": r, "outcome": o, "count": n}
                                   for (p, r, o), n in sorted(self.by_subject.items(),
                                                              key=lambda kv: (str(kv[0][0]), str(kv[0][1]), -kv[1]))],
            "not_actionable_top": [{"provider": p, "status_code": s, "code": c, "type": t, "count": n}
                                   for (p, s, c, t), n in self.not_actionable.most_common(TOP_PAIRS)],
            "not_actionable_pairs": len(self.not_actionable),
            "would_send": {"count": self.would_send_total, "samples": self.would_send},
            "retries": [{"cause": c, "count": n} for c, n in self.retries.most_common()],
            "held": [{"provider": p, "reason": r, "rule": rule, "count": n, "most_users": most}
                     for (p, r, rule), (n, most) in sorted(self.held.items(), key=lambda kv: -kv[1][0])],
            "latency_ms": latency,
        }
        return redact(out)


def _word(value: Any) -> str | None:
    return value[:120] if isinstance(value, str) and value else None


def _percentiles(ordered: list[float]) -> dict[str, Any]:
    """Nearest-rank p50/p95/p99 (None when nothing was timed)."""
    def rank(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)
    return {"count": len(ordered), "p50": rank(50), "p95": rank(95), "p99": rank(99),
            "max": round(ordered[-1], 2) if ordered else None}


def _entry(obj: Any) -> tuple[dict[str, Any], str | None] | None:
    """A log record's payload and timestamp, from a raw line or a LogEntry; None if neither."""
    if not isinstance(obj, dict):
        return None
    if "jsonPayload" in obj or "textPayload" in obj or "protoPayload" in obj:
        payload = obj.get("jsonPayload")
        if not isinstance(payload, dict):
            return None  # a text or audit entry: not one of ours
        stamp = obj.get("timestamp") or obj.get("receiveTimestamp")
        return payload, stamp if isinstance(stamp, str) else None
    if "severity" in obj or "outcome" in obj or "message" in obj:
        stamp = obj.get("time") or obj.get("timestamp")
        return obj, stamp if isinstance(stamp, str) else None
    return None


def _objects(text: str, report: Report) -> Iterator[Any]:
    """JSON values in one input: a whole JSON array (gcloud --format=json), else one per line."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, list):
            yield from whole
            return
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                yield json.loads(line)
                continue
            except ValueError:
                pass
        report.junk += 1


def build(texts: Iterable[str], samples: int = 10) -> Report:
    """A report over the given inputs (each the whole text of one file or stream)."""
    report = Report(samples=samples)
    for text in texts:
        for obj in _objects(text, report):
            found = _entry(obj)
            if found is None:
                report.junk += 1
            else:
                report.add(*found)
    return report


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def render(s: dict[str, Any], out: TextIO) -> None:
    """The summary as readable tables."""
    w = out.write
    span = f", {s['first']} .. {s['last']}" if s["first"] else ""
    w(f"{s['records']} log records with an outcome, {s['other_records']} other records, "
      f"{s['junk_lines']} junk lines skipped{span}\n")
    w("\noutcomes\n")
    for row in s["outcomes"]:
        w(f"  {row['function']:<28} {row['outcome']:<16} {row['count']:>9}\n")
    w("\nnotifier outcomes per provider and reason\n")
    w(f"  {'provider':<16} {'reason':<20} {'outcome':<16} {'count':>9}\n")
    for row in s["by_provider_reason"]:
        w(f"  {_fmt(row['provider']):<16} {_fmt(row['reason']):<20} {row['outcome']:<16} {row['count']:>9}\n")
    w(f"\nmost frequent not_actionable errors ({s['not_actionable_pairs']} distinct; a classifier gap shows here)\n")
    w(f"  {'provider':<16} {'status':>6}  {'code':<32} {'type':<28} {'count':>7}\n")
    for row in s["not_actionable_top"]:
        w(f"  {_fmt(row['provider']):<16} {_fmt(row['status_code']):>6}  {_fmt(row['code'])[:32]:<32} "
          f"{_fmt(row['type'])[:28]:<28} {row['count']:>7}\n")
    ws = s["would_send"]
    w(f"\nwould_send (shadow mode): {ws['count']}" + (f", first {len(ws['samples'])}:" if ws["samples"] else "") + "\n")
    for row in ws["samples"]:
        w("  " + " ".join(f"{k}={v}" for k, v in row.items()) + "\n")
    if s["held"]:
        w("\nheld as one fault (many users failing the same way at once; `python -m functions surge`)\n")
        for row in s["held"]:
            w(f"  {_fmt(row['provider']):<16} {_fmt(row['reason']):<20} {_fmt(row['rule'])[:40]:<40} "
              f"{row['count']:>7} events, up to {row['most_users']} users\n")
    w("\nretries by cause\n")
    for row in s["retries"] or [{"cause": "none", "count": 0}]:
        w(f"  {row['cause']:<32} {row['count']:>9}\n")
    w("\nlatency_ms (handled events: sent, no_targets, muted, would_send)\n")
    w(f"  {'outcome':<16} {'count':>8} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}\n")
    for name, p in s["latency_ms"].items():
        w(f"  {name:<16} {p['count']:>8} {_fmt(p['p50']):>9} {_fmt(p['p95']):>9} {_fmt(p['p99']):>9} "
          f"{_fmt(p['max']):>9}\n")


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions report",
                                     description="Summarize the functions' JSON log lines.")
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files; '-' or none: stdin")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--samples", type=int, default=10, help="would_send samples to show (default 10)")
    args = parser.parse_args(argv)
    texts = []
    for name in args.files or ["-"]:
        try:
            texts.append(sys.stdin.read() if name == "-" else open(name, encoding="utf-8", errors="replace").read())
        except OSError as exc:
            print(f"error: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 2
    summary = build(texts, samples=max(0, args.samples)).summary()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        render(summary, sys.stdout)
    return 0
