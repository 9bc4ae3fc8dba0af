"""The app backend's side: report a failed call made with a user's own key, in microseconds.

`Reporter.report()` sits on the request path of a busy service, right where an LLM or speech call
with the user's key failed. So it never raises, never blocks and never does I/O: it validates the
ids, reads the status and the provider's error code off the exception (duck typing, no SDK
imports), drops a repeat of the same failure seen within the window (a broken key fails on every
request; one message per window is enough), and appends to a bounded buffer. A background thread
turns each entry into a contract v1 event (schemas/byok-error-event.v1.json): message and body
redacted, sizes capped, the key replaced by an HMAC fingerprint; and publishes it with
google-cloud-pubsub, keeping a bounded number of publishes in flight. When Pub/Sub is slow or
unreachable the buffer fills and the oldest entries are dropped and counted: memory stays flat.

When `key=` is given and the failure may be about the key or the account, the background thread
first asks the provider itself (probe.py) and sends its verdict in the event's `verification`;
report() itself does no more work for it. Needs only google-cloud-pubsub and the standard library;
the contract's rules (contract.py) and the redaction (redact.py) are the notifier's own files.
Details and measured costs: docs/publisher.md.
"""
from __future__ import annotations

import asyncio
import atexit
import collections
import hmac
import json
import logging
import os
import secrets
import threading
import time
import weakref
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from . import keyform
from . import probe as probes
from .aws import AwsKey, aws_key
from .contract import FINGERPRINT_RE, PROVIDER_RE, valid_uid  # the notifier's own rules (stdlib only)
from .extract import _cut, _quick, extract_error
from .redact import redact_text

__all__ = ["Reporter", "extract_error", "fingerprint_key"]

MAX_FIELD_CHARS = 256           # feature, model, operation (the contract's limit)
VERSION = "2.5.0"

log = logging.getLogger("byok_reporter")


def _key_name(key: Any) -> str:
    """What names a key for its fingerprint: the key itself, or an AWS credential set's access key id (its
    session token changes with every refresh while the key stays the same)."""
    return key.access_key_id if type(key) is AwsKey else key if isinstance(key, str) else str(key)


def _as_key(key: Any) -> Any:
    """A `key=` as the reporter uses it: a string as given, AWS credentials (a dict, botocore's frozen ones) as an
    AwsKey, anything else as given."""
    return key if key is None or type(key) is str else (aws_key(key) or key)


def fingerprint_key(key: str, pepper: str | bytes, length: int = 32) -> str:
    """HMAC-SHA256 of the key with a secret pepper, as `length` hex characters: never the key."""
    if isinstance(pepper, str):
        pepper = pepper.encode()
    return hmac.digest(pepper, key.encode("utf-8", "surrogatepass"), "sha256").hex()[:length]



# --------------------------------------------------------------------------------------------------
# The reporter.

# (dedup key, kind, uid, provider, source, status, code, fingerprint, fields, time, key, base_url);
# key only when a probe may follow (the key never leaves the process otherwise).
_Entry = tuple


class Reporter:
    """Reports BYOK key failures to a Pub/Sub topic; one per process, shared by all threads.

    Options:
      window_seconds (60): identical reports (uid, provider, status, code, key fingerprint)
        within this window publish once.
      max_keys (10000): distinct reports remembered for the window (oldest forgotten first).
      buffer_size (1000): events waiting to be published; when full the oldest is dropped.
      max_in_flight (100): publishes awaiting Pub/Sub's answer; more wait in the buffer.
      publish_timeout (30): seconds the client may retry one publish before it is dropped.
      fingerprint_pepper (env BYOK_KEY_FINGERPRINT_PEPPER): secret for `key` fingerprints;
        without it a `key` is ignored (a random pepper would differ between instances).
      stats_interval (300): seconds between stats log lines (only when something changed).
      recovered_events (True): let report_recovered() publish (False: never report recoveries).
      recovery_memory (86400): seconds a reported failure makes report_recovered() publish.
      publisher_client: a google.cloud.pubsub_v1.PublisherClient to use instead of making one.
      logger: a logging.Logger for the reporter's own lines (default "byok_reporter").
      exit_timeout (2): at interpreter exit, seconds spent publishing what is still buffered
        (call close() yourself on shutdown to choose).
      probe (True): after a failure that may be about the key or the account, ask the provider
        with the same key (report(..., key=...)) and send its verdict; False: never.
      probe_providers: {provider: bool} to turn probing off (or on) per provider.
      probe_timeout (3): seconds for one probe (connect, answer and read).
      probe_max_in_flight (4): probes running at once; beyond that an event goes without one.
      probe_table: another probe table (a dict or a JSON file's path) instead of the packaged one.
    """

    def __init__(self, project_id: str, topic: str, *, window_seconds: float = 60.0,
                 max_keys: int = 10000, buffer_size: int = 1000, max_in_flight: int = 100,
                 publish_timeout: float = 30.0, fingerprint_pepper: str | bytes | None = None,
                 stats_interval: float = 300.0, recovered_events: bool = True,
                 publisher_client: Any = None, logger: logging.Logger | None = None,
                 exit_timeout: float = 2.0, recovery_memory: float = 86400.0, probe: bool = True,
                 probe_providers: Mapping[str, bool] | None = None, probe_timeout: float = 3.0,
                 probe_max_in_flight: int = 4, probe_table: str | Mapping | None = None) -> None:
        self.project_id = project_id
        self.topic = topic
        self.topic_path = topic if topic.startswith("projects/") else f"projects/{project_id}/topics/{topic}"
        self.window_seconds = float(window_seconds)
        self.max_keys = max(1, int(max_keys))
        self.buffer_size = max(1, int(buffer_size))
        self.max_in_flight = max(1, int(max_in_flight))
        self.publish_timeout = float(publish_timeout)
        pepper = fingerprint_pepper if fingerprint_pepper is not None \
            else os.environ.get("BYOK_KEY_FINGERPRINT_PEPPER") or None
        self._pepper = pepper.encode() if isinstance(pepper, str) else pepper
        self.stats_interval = float(stats_interval)
        self.recovered_events = recovered_events
        self.recovery_memory = float(recovery_memory)
        self._log = logger or log
        self._given_client = publisher_client
        self._counts = collections.Counter()
        self._warned: set[str] = set()
        self._fingerprints: dict[int, str] = {}
        self._probe_table = probes.ProbeTable(probes.load_table(probe_table))
        wanted = {self._probe_table.canonical(p): on for p, on in (probe_providers or {}).items()}
        self._probed_providers = frozenset(
            p for p in self._probe_table.providers if probe and wanted.get(p, True))
        self.probe_timeout = float(probe_timeout)
        self.probe_max_in_flight = max(1, int(probe_max_in_flight))
        self._probe_secret = secrets.token_bytes(32)     # names a key without a fingerprint, in memory
        self._setup()
        ref = weakref.ref(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: (r := ref()) is not None and r._setup())
        # At interpreter exit, give what is buffered a short chance (the thread is a daemon).
        atexit.register(lambda: (r := ref()) is not None and not r._closed and r.close(exit_timeout))

    def _setup(self) -> None:
        """Fresh state (at start, and in a forked child: threads and gRPC channels don't survive fork)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._seen: collections.OrderedDict = collections.OrderedDict()
        self._failed: collections.OrderedDict = collections.OrderedDict()
        self._queue: collections.deque = collections.deque()
        self._in_flight = 0
        self._worker_waiting = False
        self._closed = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._client = self._given_client
        self._owns_client = self._given_client is None
        self._client_retry_at = 0.0
        self._retry = None
        self._probed: collections.OrderedDict = collections.OrderedDict()
        self._probing = 0
        self._probe_pool: ThreadPoolExecutor | None = None

    # ---- the hot path ---------------------------------------------------------------------------

    def report(self, uid: str, provider: str, error: Any, *, key: str | Mapping | None = None,
               base_url: str | None = None, key_fingerprint: str | None = None,
               feature: str | None = None, model: str | None = None,
               operation: str | None = None) -> bool:
        """Report a failed call made with the user's key. Never raises, never blocks.

        `error` is the exception the SDK raised (or a wrapper around it), or the event's `error`
        dict. `key` (optional) becomes an HMAC fingerprint in the event; when the failure may be
        about the key, the background thread also uses it for one probe of the provider at
        `base_url` (the base URL the app set the failed client up with, such as the user's relay;
        default: the provider's official one). A failed call that reached another provider's
        official host and not `base_url` says so (`LOCAL /base/<provider>`): the key was misdirected.
        For Bedrock and Polly, `key` may be AWS credentials (a dict with boto3's names, or
        botocore's frozen credentials); the probe then signs its read (aws.py).
        The key is never published or logged.
        Returns True when an event was queued, False when it was a repeat, invalid or refused.
        """
        try:
            fields = (feature, model, operation)
            return self._report("error", uid, provider, error, key, key_fingerprint, fields, base_url)
        except Exception:  # noqa: BLE001 - the request path must never see our failure
            self._count_and_warn("internal_errors", "report() failed internally; event dropped",
                                 exc_info=True)
            return False

    def report_recovered(self, uid: str, provider: str, *, key: str | None = None,
                         key_fingerprint: str | None = None, force: bool = False) -> bool:
        """Report that a call with the user's key worked again (kind "recovered").

        Meant to be called after every successful call: it costs a dict lookup and publishes only
        when this process reported a failure for (uid, provider) in the last `recovery_memory`
        seconds (or with force=True, for a backend that tracks key health itself); then rate-limited
        like failures. Publishes nothing when recovered_events=False.
        """
        try:
            target = (uid, provider)
            if not force:
                expires = self._failed.get(target)
                if expires is None or expires < time.monotonic():
                    return False
            if not self.recovered_events:
                self._count("recovered_disabled")
                return False
            with self._lock:
                self._failed.pop(target, None)
            return self._report("recovered", uid, provider, None, key, key_fingerprint,
                                (None, None, None))
        except Exception:  # noqa: BLE001
            self._count_and_warn("internal_errors", "report_recovered() failed internally",
                                 exc_info=True)
            return False

    def key_fingerprint(self, key: str | Mapping) -> str | None:
        """The fingerprint this reporter's events carry for `key` (None without a pepper): what the backend stores
        in `users/{uid}.byok_key_fingerprints.<provider>` when the user saves a key, so the notifier can tell a
        failure of a key the user has since replaced (or that the backend should not be sending) from one of the
        key they have now. Never the key."""
        key = _as_key(key)
        return self._fingerprint(key) if key and self._pepper else None

    def _report(self, kind: str, uid: Any, provider: Any, error: Any, key: Any, fingerprint: Any,
                fields: tuple, base_url: Any = None) -> bool:
        if kind == "error":
            source, status, code = _quick(error)
        else:
            source, status, code = None, None, "recovered"
        key = _as_key(key)
        if fingerprint is None and key and self._pepper:
            fingerprint = self._fingerprint(key)
        # The hot path: a repeat of a report seen (so validated) within the window.
        if type(uid) is str and type(provider) is str:
            dedup = (uid, provider, status, code, fingerprint)
            now = time.monotonic()
            with self._lock:
                expires = self._seen.get(dedup)
                if expires is not None and expires > now:
                    self._counts["suppressed"] += 1
                    return False
        if isinstance(provider, str) and not PROVIDER_RE.fullmatch(provider):
            provider = provider.strip().lower()
        if not valid_uid(uid):
            self._count_and_warn("invalid", "report dropped: uid is not a valid Firestore document id")
            return False
        if not isinstance(provider, str) or not PROVIDER_RE.fullmatch(provider):
            self._count_and_warn("invalid", "report dropped: provider must match [a-z0-9_-]{1,40}")
            return False
        if fingerprint is not None and (not isinstance(fingerprint, str)
                                        or not FINGERPRINT_RE.fullmatch(fingerprint)):
            self._count_and_warn("invalid_fingerprint", "key_fingerprint ignored: not 1-128 of "
                                 "[A-Za-z0-9_:.=+/-]")
            fingerprint = None
            if key and self._pepper:
                fingerprint = self._fingerprint(key)
        if key and not self._pepper and fingerprint is None:
            self._count_and_warn("no_pepper", "key given but no fingerprint_pepper configured: key ignored")
        dedup = (uid, provider, status, code, fingerprint)
        mangled = keyform.malformed(key) if kind == "error" and type(key) is str else None   # outside the lock
        now = time.monotonic()
        start_worker = False
        with self._lock:
            if self._closed:
                self._counts["closed"] += 1
                return False
            seen = self._seen
            expires = seen.get(dedup)
            if expires is not None and expires > now:
                self._counts["suppressed"] += 1
                return False
            seen[dedup] = now + self.window_seconds
            seen.move_to_end(dedup)
            if len(seen) > self.max_keys:
                seen.popitem(last=False)
            else:
                for _ in range(2):                       # forget expired entries as we go
                    oldest = next(iter(seen.items()), None)
                    if oldest is None or oldest[1] > now:
                        break
                    del seen[oldest[0]]
            queue = self._queue
            if len(queue) >= self.buffer_size:
                dropped = queue.popleft()
                self._counts["dropped"] += 1
                if seen.get(dropped[0], 0) > now:        # let a later repeat try again
                    del seen[dropped[0]]
            probe_with = key if (key and kind == "error" and not mangled
                                 and (type(key) is str or type(key) is AwsKey)
                                 and self._probe_table.canonical(provider) in self._probed_providers) else None
            queue.append((dedup, kind, uid, provider, source, status, code, fingerprint, fields,
                          time.time(), probe_with, base_url if kind == "error" else None, mangled))
            if kind == "error":                          # for report_recovered()
                failed = self._failed
                failed[(uid, provider)] = now + self.recovery_memory
                failed.move_to_end((uid, provider))
                if len(failed) > self.max_keys:
                    failed.popitem(last=False)
            self._counts["queued"] += 1
            if self._thread is None:
                start_worker = True
                self._thread = threading.Thread(target=self._run, name="byok-reporter", daemon=True)
            elif self._worker_waiting:
                self._wake.notify()
        if start_worker:
            self._thread.start()
        return True

    def _fingerprint(self, key: Any) -> str:
        """The key's HMAC, remembered by the key's hash (never the key itself) for repeats."""
        key = _key_name(key)
        h = hash(key)
        cached = self._fingerprints.get(h)
        if cached is None:
            if len(self._fingerprints) >= 4096:
                self._fingerprints.clear()
            cached = self._fingerprints[h] = fingerprint_key(key, self._pepper)
        return cached

    # ---- counters and logs ----------------------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _count_and_warn(self, name: str | None, message: str, exc_info: bool = False) -> None:
        """Count a problem; log it the first time only (a flood must not flood the logs)."""
        with self._lock:
            if name:
                self._counts[name] += 1
            first = message not in self._warned
            if first:
                self._warned.add(message)
        if first:
            self._log.warning("byok reporter: %s (logged once; see stats())", message, exc_info=exc_info)

    def stats(self) -> dict[str, int]:
        """Counters since start: queued, published, suppressed, dropped, failed, invalid, ...,
        plus the current buffer length, publishes in flight and distinct reports remembered."""
        with self._lock:
            out = {name: 0 for name in ("queued", "published", "suppressed", "dropped", "failed",
                                        "invalid", "internal_errors")}
            out.update(self._counts)
            out["buffered"] = len(self._queue)
            out["in_flight"] = self._in_flight
            out["remembered"] = len(self._seen)
        return out

    def _log_stats(self, reason: str) -> None:
        self._log.info("byok reporter stats (%s): %s", reason, json.dumps(self.stats(), sort_keys=True))

    # ---- the background thread ------------------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        if time.monotonic() < self._client_retry_at:
            return None
        try:
            from google.cloud import pubsub_v1

            self._client = pubsub_v1.PublisherClient()
        except Exception as exc:  # noqa: BLE001 - no credentials, bad environment: retry later
            self._client_retry_at = time.monotonic() + 10.0
            self._count_and_warn("client_errors", f"cannot create the Pub/Sub client "
                                 f"({type(exc).__name__}); events wait in the buffer")
            return None
        return self._client

    def _get_retry(self) -> Any:
        if self._retry is None:
            from google.api_core import exceptions as gexc
            from google.api_core.retry import Retry, if_exception_type

            self._retry = Retry(
                predicate=if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded,
                                            gexc.InternalServerError, gexc.Aborted,
                                            gexc.ResourceExhausted, gexc.Unknown, gexc.Cancelled),
                initial=0.1, maximum=5.0, multiplier=2.0, timeout=self.publish_timeout)
        return self._retry

    def _run(self) -> None:
        last_stats = time.monotonic()
        logged_counts: dict = {}
        while True:
            with self._lock:
                while (not self._queue or self._in_flight >= self.max_in_flight) and not self._stopping:
                    self._worker_waiting = True
                    self._wake.wait(timeout=min(self.stats_interval, 5.0))
                    self._worker_waiting = False
                    if time.monotonic() - last_stats >= self.stats_interval:
                        break
                if self._stopping and (not self._queue or self._client is None):
                    break
                entry = None
                if self._queue and self._in_flight < self.max_in_flight:
                    entry = self._queue.popleft()
                    self._in_flight += 1
            if time.monotonic() - last_stats >= self.stats_interval:
                last_stats = time.monotonic()
                current = dict(self._counts)
                if current != logged_counts:
                    logged_counts = current
                    self._log_stats("periodic")
            if entry is not None:
                self._publish(entry)
        self._shutdown_client()

    def _publish(self, entry: _Entry) -> None:
        dedup = entry[0]
        try:
            event, attributes = self._build(entry)
        except Exception:  # noqa: BLE001 - an error object we could not read: never retry it
            self._finish(dedup, ok=False, counter="unencodable")
            self._count_and_warn(None, "an event could not be encoded; dropped", exc_info=True)
            return
        client = self._get_client()
        if client is None:
            with self._lock:                             # back to the front; wait for a client
                self._queue.appendleft(entry)
                self._in_flight -= 1
                self._idle.notify_all()
            time.sleep(0.2)
            return
        failed = probes.failed_url(entry[4]) if isinstance(entry[4], BaseException) else None
        if entry[12]:                                    # a mangled key: our platform's bug, and no probe
            event["verification"] = keyform.verification(entry[12])
            self._count_and_warn(f"key_malformed_{entry[12]}", f"the key given for {entry[3]} is not a key "
                                 f"({entry[12]}): the backend mangled it; the event says so and nothing is probed")
        elif failed is not None:
            owner = self._probe_table.misdirected(entry[3], failed)
            if owner is not None:                        # the call reached another vendor's host: no probe
                # `base`: not the host the app set the client up with either, so the key did not belong there
                where = "base" if probes.elsewhere(entry[11], failed) else "host"
                event["verification"] = probes.local_verification(f"{where}/{owner}", "key_misdirected")
                self._count_and_warn(f"key_misdirected_{owner}", f"a failed call reported for {entry[3]} went to "
                                     f"{owner}'s host: the event says so and nothing is probed")
        planned = self._plan_probe(entry, event, failed) if entry[10] and "verification" not in event else None
        if planned is not None:
            plan, subject = planned
            try:
                self._probe_pool.submit(self._probe_then_send, client, dedup, event, attributes, plan,
                                        entry[10], subject)
                return
            except RuntimeError:                         # the pool is shut down: publish as is
                with self._lock:
                    self._probing -= 1
        self._send(client, dedup, event, attributes)

    # ---- asking the provider (probe.py) ---------------------------------------------------------

    def _plan_probe(self, entry: _Entry, event: dict, failed: str | None) -> tuple[probes.ProbePlan, tuple] | None:
        """The probe this event calls for, or None (not about the key, probed already in this
        window, too many in flight, no safe place to send the key). Runs on the worker thread."""
        _, _, uid, provider, source, _, _, fingerprint, _, _, key, base_url, _ = entry
        error = event["error"]
        names = tuple(c.__name__ for c in type(source).__mro__) if isinstance(source, BaseException) else ()
        if not self._probe_table.calls_for_probe(error, names + (str(error.get("type") or ""),)):
            return None
        subject = (uid, provider, fingerprint or hmac.digest(self._probe_secret,
                                                             _key_name(key).encode("utf-8", "replace"), "sha256"))
        now = time.monotonic()
        with self._lock:
            seen = self._probed.get(subject)
            if seen is not None and seen[0] > now:       # one probe per key per window
                if seen[1] is not None:
                    event["verification"] = seen[1]
                    self._counts["probe_reused"] += 1
                else:
                    self._counts["probe_pending"] += 1
                return None
            if self._probing >= self.probe_max_in_flight:
                self._counts["probe_busy"] += 1
                return None
        plan, why = self._probe_table.plan(provider, base_url, failed)
        if plan is None or not probes.key_fits(plan, key):
            self._count(f"probe_skipped_{why or 'key_form'}")
            return None
        with self._lock:
            self._probed[subject] = (now + self.window_seconds, None)
            self._probed.move_to_end(subject)
            if len(self._probed) > self.max_keys:
                self._probed.popitem(last=False)
            self._probing += 1
        if self._probe_pool is None:
            self._probe_pool = ThreadPoolExecutor(max_workers=self.probe_max_in_flight,
                                                  thread_name_prefix="byok-probe")
        return plan, subject

    def _probe_then_send(self, client: Any, dedup: tuple, event: dict, attributes: dict,
                         plan: probes.ProbePlan, key: str | AwsKey, subject: tuple) -> None:
        verification = None
        try:
            verification = probes.run_probe(plan, key, self.probe_timeout, f"byok-reporter/{VERSION}")
        except Exception:  # noqa: BLE001 - a probe never costs the event
            self._count_and_warn("probe_errors", "a probe failed internally; event sent without it",
                                 exc_info=True)
        finally:
            with self._lock:
                self._probing -= 1
                if verification is not None:
                    self._counts["probes"] += 1
                    self._counts[f"probe_{verification['verdict']}"] += 1
                    if subject in self._probed:
                        self._probed[subject] = (self._probed[subject][0], verification)
        if verification is not None:
            event["verification"] = verification
        self._send(client, dedup, event, attributes)

    def _send(self, client: Any, dedup: tuple, event: dict, attributes: dict) -> None:
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            future = client.publish(self.topic_path, data, retry=self._get_retry(),
                                    timeout=self.publish_timeout, **attributes)
        except Exception as exc:  # noqa: BLE001 - client stopped, bad topic name...
            self._finish(dedup, ok=False)
            self._count_and_warn(None, f"publish refused ({type(exc).__name__}); counted as failed")
            return
        future.add_done_callback(lambda f: self._done(f, dedup))

    def _done(self, future: Any, dedup: tuple) -> None:
        try:
            future.result(timeout=0)
            ok = True
        except Exception as exc:  # noqa: BLE001
            ok = False
            self._count_and_warn(None, f"publish failed ({type(exc).__name__}); "
                                 "events dropped and counted as failed")
        self._finish(dedup, ok)

    def _finish(self, dedup: tuple, ok: bool, counter: str | None = None) -> None:
        with self._lock:
            self._in_flight -= 1
            self._counts[counter or ("published" if ok else "failed")] += 1
            if not ok and dedup in self._seen:
                del self._seen[dedup]                    # a later repeat may try again
            self._wake.notify()
            if not self._queue and self._in_flight == 0:
                self._idle.notify_all()

    def _build(self, entry: _Entry) -> tuple[dict[str, Any], dict[str, str]]:
        """The contract v1 event (without `verification`) and its Pub/Sub attributes."""
        _, kind, uid, provider, source, status, code, fingerprint, fields, at = entry[:10]
        event: dict[str, Any] = {
            "version": 1, "kind": kind, "uid": uid, "provider": provider,
            "occurred_at": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        if fingerprint:
            event["key_fingerprint"] = fingerprint
        for name, value in zip(("feature", "model", "operation"), fields):
            if value is not None:
                text = value if isinstance(value, str) else str(value)
                event[name] = _cut(redact_text(text[:MAX_FIELD_CHARS * 4]), MAX_FIELD_CHARS)
        event["error"] = extract_error(source) if kind == "error" else {}
        attributes = {"version": "1", "kind": kind, "provider": provider}
        if status is not None:
            attributes["status_code"] = str(status)
        code_out = event["error"].get("code")
        if code_out:
            attributes["code"] = code_out[:128]
        return event, attributes

    def _shutdown_client(self) -> None:
        pool, self._probe_pool = self._probe_pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            try:
                client.stop()
            except Exception:  # noqa: BLE001
                pass

    # ---- flush and close ------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event is published or failed (at most `timeout` seconds).
        Returns True when nothing is left waiting."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.notify()
                self._idle.wait(timeout=min(remaining, 0.5))
            return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking reports, publish what is buffered (up to `timeout` s), stop the thread.
        Returns True when everything buffered was handed to Pub/Sub and answered."""
        with self._lock:
            if self._closed and self._thread is None:
                return not self._queue
            self._closed = True
        deadline = time.monotonic() + max(0.0, timeout)
        done = self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
            thread = self._thread
            lost = len(self._queue)
            if lost:
                self._counts["dropped"] += lost
                self._queue.clear()
        if thread is not None:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        else:
            self._shutdown_client()
        self._log_stats("close")
        return done

    async def aflush(self, timeout: float = 5.0) -> bool:
        """flush() for asyncio code: waits in a worker thread, not on the event loop."""
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float = 5.0) -> bool:
        """close() for asyncio code (e.g. a FastAPI lifespan's shutdown)."""
        return await asyncio.to_thread(self.close, timeout)

    # ---- integrations -----------------------------------------------------------------------------

    def langchain_handler(self, uid: str, provider: str, **fields: Any) -> Any:
        """A LangChain callback handler that reports LLM errors for this user and provider.

        Needs langchain-core (imported only here): `llm.invoke(..., config={"callbacks":
        [reporter.langchain_handler(uid, "openai", feature="chat")]})`."""
        return _langchain_handler_class()(self, uid, provider, fields)

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_handler_class: Any = None


def _langchain_handler_class() -> Any:
    global _handler_class
    if _handler_class is None:
        from langchain_core.callbacks import BaseCallbackHandler

        class ByokErrorHandler(BaseCallbackHandler):
            """Reports on_llm_error to a Reporter; never raises into LangChain."""

            raise_error = False
            run_inline = True

            def __init__(self, reporter: Reporter, uid: str, provider: str, fields: dict) -> None:
                self.reporter, self.uid, self.provider, self.fields = reporter, uid, provider, fields

            def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
                self.reporter.report(self.uid, self.provider, error, **self.fields)

        _handler_class = ByokErrorHandler
    return _handler_class
