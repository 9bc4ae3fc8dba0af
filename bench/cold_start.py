"""Cold start: process start to first handled event, the notifier beside a hello-world function.

Each run starts a fresh functions-framework process (as a new 2nd gen instance would) and posts one
Pub/Sub CloudEvent to it as soon as the port accepts connections, retrying until it is answered;
the figure is from process start to that first answer. For the notifier the first event is a real
first notification (a new user with one device), so it includes creating the Redis, Firestore and
firebase-admin clients lazily; a second figure is for a suppressed duplicate (Redis client only).
The hello-world function, in a temporary main.py, imports only functions_framework.

Run: .venv/bin/python bench/cold_start.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from common import (PROJECT, ROOT, Stack, cloudevent_headers, emit, error_event, print_machine,
                    pubsub_data)
from devstack import services

HELLO = '''import functions_framework


@functions_framework.cloud_event
def hello(event):
    print("hello", event["id"])
'''


def one_run(source: Path, target: str, env: dict, data: dict, log_dir: Path) -> float:
    port = services.free_port()
    exe = ROOT / ".venv/bin/functions-framework"
    argv = [str(exe), "--target", target, "--signature-type", "cloudevent", "--host", services.HOST,
            "--port", str(port), "--source", str(source)]
    log = open(log_dir / f"{target}-{port}.log", "wb")
    event_id = uuid.uuid4().hex
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=str(source.parent),
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{target} exited; see {log.name}")
            try:
                resp = requests.post(f"http://{services.HOST}:{port}/", data=json.dumps(data),
                                     headers=cloudevent_headers(event_id), timeout=30)
                if resp.status_code != 200:
                    raise RuntimeError(f"{target} answered {resp.status_code}; see {log.name}")
                return time.perf_counter() - start
            except requests.ConnectionError:
                time.sleep(0.005)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(10)
        log.close()


def import_time(module: str, cwd: Path, env: dict) -> float:
    """Seconds to import a module in a fresh interpreter (python -X importtime would itemise it)."""
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", code], cwd=str(cwd), capture_output=True,
                         text=True, env={**os.environ, **env}, check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print_machine()
    hello_dir = Path(tempfile.mkdtemp(prefix="byok-hello-"))
    (hello_dir / "main.py").write_text(HELLO)
    with Stack(firestore=True) as stack:
        from google.cloud import firestore

        env = stack.env()
        os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore.address
        db = firestore.Client(project=PROJECT)
        import redis

        from functions import dedup
        r = redis.Redis.from_url(stack.redis_url)
        hello, first, dup = [], [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            hello.append(one_run(hello_dir / "main.py", "hello", {}, pubsub_data({"x": 1}), stack.log_dir))
            uid = f"cold-{uuid.uuid4().hex[:10]}"
            db.document(f"users/{uid}/fcm_tokens/phone").set({"token": f"tok-{uid}"})
            first.append(one_run(ROOT / "main.py", "notify_byok_llm_error", env,
                                 pubsub_data(error_event(uid)), stack.log_dir))
            uid2 = f"cold-dup-{uuid.uuid4().hex[:10]}"
            r.set(dedup.Subject(uid2, "openai", "quota_exhausted").key, dedup.mark_value("sent", "seed", 600), ex=600)
            dup.append(one_run(ROOT / "main.py", "notify_byok_llm_error", env,
                               pubsub_data(error_event(uid2)), stack.log_dir))
        delivered = len(stack.fcm.delivered())
        imports = {"functions_framework": import_time("functions_framework", hello_dir, {}),
                   "main (notifier module)": import_time("main", ROOT, env)}
        db.close()
        r.close()

    med = {k: statistics.median(v) * 1000 for k, v in (("hello", hello), ("first", first), ("dup", dup))}
    print(f"\ncold start, process start to first handled event, median of {args.runs} runs (ms):")
    print(f"  hello-world cloud_event function          {med['hello']:8.0f}   (min {min(hello) * 1000:.0f})")
    print(f"  notifier, first event a suppressed dup    {med['dup']:8.0f}   (min {min(dup) * 1000:.0f}); "
          f"+{med['dup'] - med['hello']:.0f} ms over hello-world")
    print(f"  notifier, first event a real push         {med['first']:8.0f}   (min {min(first) * 1000:.0f}); "
          f"+{med['first'] - med['hello']:.0f} ms over hello-world")
    print(f"  pushes delivered: {delivered} (expected {args.runs})")
    print("import time in a fresh interpreter (ms): " +
          ", ".join(f"{k} {v * 1000:.0f}" for k, v in imports.items()))
    emit("cold_start", {"runs": args.runs, "hello_ms": round(med["hello"]), "notifier_dup_ms": round(med["dup"]),
                        "notifier_first_push_ms": round(med["first"]), "delivered": delivered,
                        "import_ms": {k: round(v * 1000) for k, v in imports.items()}})
    return 0 if delivered == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
