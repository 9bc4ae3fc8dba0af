"""What the benchmarks share: a local stack of real services, event builders, statistics, the machine.

Every benchmark starts its own services on free loopback ports (never the machine's Redis on 6379),
prints its figures as text and one JSON line, and stops what it started.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack import services  # noqa: E402
from devstack.fcm_server import FcmServer  # noqa: E402

PROJECT = "demo-byok-bench"

from tests.helpers import QUOTA_ERROR, RATE_LIMIT_ERROR, SERVER_ERROR  # noqa: E402,F401 - one set of real errors


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def error_event(uid: str, error: dict | None = None, provider: str = "openai") -> dict:
    return {"version": 1, "uid": uid, "provider": provider, "occurred_at": now_rfc3339(),
            "feature": "chat", "model": "gpt-4o", "error": QUOTA_ERROR if error is None else error}


def pubsub_data(payload: dict | bytes, message_id: str | None = None) -> dict:
    """The data of a google.cloud.pubsub.topic.v1.messagePublished CloudEvent."""
    raw = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return {"message": {"data": base64.b64encode(raw).decode(), "attributes": {},
                        "messageId": message_id or uuid.uuid4().hex, "publishTime": now_rfc3339()},
            "subscription": f"projects/{PROJECT}/subscriptions/notifier"}


def cloudevent_headers(event_id: str) -> dict[str, str]:
    """Binary-mode CloudEvent headers, as Eventarc delivers a Pub/Sub message."""
    return {"ce-id": event_id, "ce-specversion": "1.0",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
            "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/byok-llm-errors",
            "content-type": "application/json"}


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(values_s: list[float]) -> dict[str, float]:
    """Median and p95 in milliseconds of durations given in seconds."""
    ms = [v * 1000 for v in values_s]
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(pct(ms, 95), 3), "n": len(ms)}


def machine() -> dict[str, str | int]:
    """The machine the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import redis

    return {"nproc": os.cpu_count() or 0, "cpu": cpu, "ram_gb": ram_gb, "python": platform.python_version(),
            "redis_py": redis.__version__, "load_avg_1m": round(os.getloadavg()[0], 2)}


def print_machine() -> None:
    m = machine()
    print(f"machine: {m['nproc']} cpu ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
          f"redis-py {m['redis_py']}, load average {m['load_avg_1m']} at start")


class Stack:
    """Real local services for a benchmark: Redis, optionally the Firestore and Pub/Sub emulators, FCM."""

    def __init__(self, firestore: bool = True, pubsub: bool = False, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir or Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"byok-bench-{uuid.uuid4().hex[:6]}"
        self.want_firestore, self.want_pubsub = firestore, pubsub
        self.redis = self.firestore = self.pubsub = None
        self.fcm: FcmServer | None = None

    def __enter__(self) -> "Stack":
        try:
            self.redis = services.start_redis(log_dir=self.log_dir)
            if self.want_firestore:
                self.firestore = services.start_firestore_emulator(log_dir=self.log_dir)
            if self.want_pubsub:
                self.pubsub = services.start_pubsub_emulator(log_dir=self.log_dir)
            self.fcm = FcmServer()
            self.fcm.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.fcm:
            self.fcm.stop()
        for svc in (self.pubsub, self.firestore, self.redis):
            if svc:
                svc.stop()

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis.address}/0"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment a notifier process needs to run against this stack."""
        # Thousands of synthetic users failing the same way at once are a surge by construction: the count
        # runs (its cost is measured) but its threshold is out of reach, so every first event is delivered.
        out = {"GOOGLE_CLOUD_PROJECT": PROJECT, "REDIS_URL": self.redis_url, "SURGE_USERS": "5000"}
        if self.firestore:
            out["FIRESTORE_EMULATOR_HOST"] = self.firestore.address
        if self.fcm:
            out["FCM_ENDPOINT"] = self.fcm.url
        out.update(extra)
        return out

    def use_in_process(self, **extra: str) -> None:
        """Point this process's notifier (functions.config / clients) at the stack."""
        from functions import clients, config

        os.environ.update(self.env(**extra))
        config.reset()
        clients.reset()


@contextlib.contextmanager
def quiet_stdout(path: str = os.devnull) -> Iterator[None]:
    """Send the notifier's log lines to a file (as Cloud Run sends stdout to a pipe) while timing."""
    saved = sys.stdout
    with open(path, "w", buffering=1 << 16) as sink:
        sys.stdout = sink
        try:
            yield
        finally:
            sys.stdout = saved


def emit(name: str, figures: dict) -> None:
    """One machine-readable line with every figure, after the human-readable ones."""
    print("RESULT " + json.dumps({"bench": name, **figures, "machine": machine()}, sort_keys=True))
