"""The whole system on one machine: what ./dev.sh runs.

Starts on free loopback ports, in parallel: Redis (unless REDIS_URL is given), the Pub/Sub emulator,
the Firestore emulator (delivering trigger events to the project's trigger adapter), and both
functions under functions-framework, exactly as production serves main.py. The FCM server (with the
page) and the trigger adapter run in this process. Then it creates the topic and a push subscription
to the notifier, registers the Firestore trigger for the cleanup function, seeds a demo user, prints
a status table and a live feed (devstack/feed.py), until Ctrl-C.

`--demo` runs a scenario on the same stack and exits 0 only if the user got exactly one push, the
duplicates and the transient error none, and the dead device's token was deleted.

Nothing is left running: every child runs in its own process group and carries the environment
variable BYOK_DEVSTACK_RUN=<run id>; stopping ends each group, then sweeps any process that still
carries the marker (`--sweep RUN_ID` does only that, for dev.sh's exit trap).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack import services  # noqa: E402

MARKER = "BYOK_DEVSTACK_RUN"
PROJECT = "demo-byok-local"
TOPIC = "byok-llm-errors"
SUBSCRIPTION = "notify-byok-llm-error"
TRIGGER_ID = "cleanup_invalid_fcm_tokens"
NOTIFIER = "notify_byok_llm_error"
CLEANUP = "cleanup_invalid_fcm_tokens"


class StartError(RuntimeError):
    """A part of the stack did not start; the message says which and shows its log's tail."""


class Interrupted(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP: stop everything."""


# -- processes -----------------------------------------------------------------------------------

def marked_processes(run_id: str) -> list[int]:
    """Pids of processes whose environment carries BYOK_DEVSTACK_RUN=run_id (not this one, not its parent)."""
    needle = f"{MARKER}={run_id}".encode()
    skip = {os.getpid(), os.getppid()}
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def sweep(run_id: str, grace: float = 3.0) -> list[int]:
    """End every process still carrying the run's marker: SIGTERM, then SIGKILL. Returns the pids found."""
    pids = marked_processes(run_id)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = marked_processes(run_id)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


# -- the stack -----------------------------------------------------------------------------------

class Stack:
    """Everything ./dev.sh runs; `start()` then `stop()` (stop is safe at any point of start)."""

    def __init__(self, run_id: str, log_dir: Path, project: str = PROJECT, redis_url: str | None = None,
                 out: Callable[[str], None] = print) -> None:
        self.run_id, self.log_dir, self.project = run_id, log_dir, project
        self.external_redis = redis_url
        self.out = out
        self.parts: list[Any] = []     # anything with .stop(), in start order
        self.lock = threading.Lock()
        self.redis: services.Service | None = None
        self.pubsub: services.Service | None = None
        self.firestore: services.Service | None = None
        self.notifier: services.Service | None = None
        self.cleanup: services.Service | None = None
        self.fcm = None
        self.adapter = None
        self.redis_url = redis_url or ""
        self.started_at = time.monotonic()
        self.ready_seconds = 0.0

    def _register(self, part: Any) -> None:
        with self.lock:
            self.parts.append(part)

    def start(self) -> None:
        from devstack.fcm_server import FcmServer
        from devstack.trigger_adapter import TriggerAdapter

        os.environ[MARKER] = self.run_id  # every child inherits it: the sweep finds them all
        self.log_dir.mkdir(parents=True, exist_ok=True)
        ports = {name: services.free_port() for name in ("redis", "pubsub", "firestore", "notifier", "cleanup")}
        if not self.external_redis:
            self.redis_url = f"redis://{services.HOST}:{ports['redis']}/0"
        firestore_addr = f"{services.HOST}:{ports['firestore']}"
        pubsub_addr = f"{services.HOST}:{ports['pubsub']}"
        # In this process, started first, so their ports are known (and held) before anything points at them.
        self.fcm = FcmServer(redis_url=self.redis_url, firestore=firestore_addr, project=self.project).start()
        self._register(self.fcm)
        self.adapter = TriggerAdapter(f"http://{services.HOST}:{ports['cleanup']}/").start()
        self._register(self.adapter)
        os.environ.update(FIRESTORE_EMULATOR_HOST=firestore_addr, PUBSUB_EMULATOR_HOST=pubsub_addr,
                          GOOGLE_CLOUD_PROJECT=self.project)
        env = {"GOOGLE_CLOUD_PROJECT": self.project, "REDIS_URL": self.redis_url,
               "FIRESTORE_EMULATOR_HOST": firestore_addr, "FCM_ENDPOINT": self.fcm.url,
               "EMAIL_MODE": os.environ.get("EMAIL_MODE") or "fallback"}  # the page shows the mail documents

        jobs: dict[str, Callable[[], Any]] = {
            "pubsub": lambda: services.start_pubsub_emulator(ports["pubsub"], self.log_dir),
            "firestore": lambda: services.start_firestore_emulator(
                ports["firestore"], self.log_dir, functions_emulator=f"{services.HOST}:{self.adapter.port}"),
            "notifier": lambda: services.start_function(NOTIFIER, env, ports["notifier"], self.log_dir,
                                                        name="notifier", on_spawn=self._register),
            "cleanup": lambda: services.start_function(CLEANUP, env, ports["cleanup"], self.log_dir,
                                                       name="cleanup", on_spawn=self._register),
        }
        if not self.external_redis:
            # set-proc-title no: redis would otherwise overwrite its environment (and the marker in it)
            jobs["redis"] = lambda: services.start_redis(ports["redis"], self.log_dir, "--set-proc-title", "no")
        results: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}

        def run(name: str) -> None:
            try:
                results[name] = jobs[name]()
                if isinstance(results[name], services.Service) and results[name] not in self.parts:
                    self._register(results[name])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors[name] = exc

        threads = [threading.Thread(target=run, args=(n,), name=f"start-{n}", daemon=True) for n in jobs]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # short joins: a signal is handled promptly
        if errors:
            raise StartError("; ".join(f"{name}: {exc}" for name, exc in errors.items()))
        self.redis, self.pubsub, self.firestore = results.get("redis"), results["pubsub"], results["firestore"]
        self.notifier, self.cleanup = results["notifier"], results["cleanup"]

        self._create_topic()
        from devstack.trigger_adapter import register_trigger

        register_trigger(self.firestore.address, self.project, TRIGGER_ID)
        self.ready_seconds = time.monotonic() - self.started_at

    def _create_topic(self) -> None:
        from google.api_core import exceptions as gexc
        from google.cloud import pubsub_v1

        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(self.project, TOPIC)
        try:
            publisher.create_topic(request={"name": topic}, timeout=30)
        except gexc.AlreadyExists:
            pass
        try:
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(self.project, SUBSCRIPTION), "topic": topic,
                "push_config": {"push_endpoint": self.notifier.url}, "ack_deadline_seconds": 60}, timeout=30)
        except gexc.AlreadyExists:
            pass
        subscriber.close()
        publisher.stop()

    def dead_part(self) -> str | None:
        """The name of a child that died on its own, if any."""
        for part in (self.redis, self.pubsub, self.firestore, self.notifier, self.cleanup):
            if part is not None and not part.alive():
                return part.name
        return None

    def stop(self) -> None:
        """Stop everything started, newest first, then sweep whatever still carries the marker."""
        with self.lock:
            parts = list(reversed(self.parts))
            self.parts.clear()
        for part in parts:
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                self.out(f"warning: stopping {type(part).__name__} failed: {exc}")
        sweep(self.run_id)

    def status_table(self) -> str:
        rows = [
            ("Redis", self.redis_url, "REDIS_URL (yours)" if self.external_redis else "redis-server, nothing on disk"),
            ("Pub/Sub emulator", self.pubsub.address, f"topic {TOPIC} -> push subscription {SUBSCRIPTION}"),
            ("Firestore emulator", self.firestore.address,
             f"trigger {TRIGGER_ID} -> adapter {services.HOST}:{self.adapter.port}"),
            ("notifier", self.notifier.url, f"functions-framework --target {NOTIFIER}"),
            ("cleanup", self.cleanup.url, f"functions-framework --target {CLEANUP}"),
            ("FCM server + page", self.fcm.url + "/", "open it in a browser: what users get"),
        ]
        width = max(len(r[0]) for r in rows)
        addr = max(len(r[1]) for r in rows)
        lines = [f"BYOK notifier, local stack (project {self.project}), ready in {self.ready_seconds:.1f} s", ""]
        lines += [f"  {name:<{width}}  {where:<{addr}}  {what}" for name, where, what in rows]
        lines += ["", f"  logs: {self.log_dir}"]
        return "\n".join(lines)

    def env_hint(self) -> str:
        return (f"PUBSUB_EMULATOR_HOST={self.pubsub.address} GOOGLE_CLOUD_PROJECT={self.project}")


# -- seeding and the demo ------------------------------------------------------------------------

@dataclass
class DemoUser:
    uid: str
    phone_token: str
    tablet_token: str

    @property
    def phone(self) -> str:
        return f"users/{self.uid}/fcm_tokens/phone"

    @property
    def tablet(self) -> str:
        return f"users/{self.uid}/fcm_tokens/tablet"


def seed_demo_user(project: str, uid: str) -> DemoUser:
    """A user with two devices: a phone that receives, a tablet whose app was uninstalled (`dead-`)."""
    from google.cloud import firestore

    user = DemoUser(uid, f"ok-phone-{uuid.uuid4().hex}", f"dead-tablet-{uuid.uuid4().hex}")
    db = firestore.Client(project=project)
    try:
        db.document(f"users/{uid}").set({"name": "Demo User"})
        db.document(user.phone).set({"token": user.phone_token, "platform": "android"})
        db.document(user.tablet).set({"token": user.tablet_token, "platform": "ios"})
    finally:
        db.close()
    return user


DESKTOP_EMAIL = "desktop-user@example.com"


def seed_desktop_user(project: str, uid: str) -> None:
    """A user who entered their key on a desktop app: no device, an address (EMAIL_MODE=fallback mails them)."""
    from google.cloud import firestore

    db = firestore.Client(project=project)
    try:
        db.document(f"users/{uid}").set({"name": "Desktop User", "email": DESKTOP_EMAIL, "language": "en"})
    finally:
        db.close()


ACTIONABLE = {"status": 429, "type_": "RateLimitError", "code": "insufficient_quota",
              "message": "Error code: 429 - You exceeded your current quota, please check your plan and "
                         "billing details.",
              "body": {"error": {"message": "You exceeded your current quota, please check your plan and "
                                            "billing details.", "type": "insufficient_quota",
                                 "code": "insufficient_quota"}}}
TRANSIENT = {"status": 429, "type_": "RateLimitError", "code": "rate_limit_exceeded",
             "message": "Error code: 429 - Rate limit reached for gpt-4o on tokens per min (TPM). "
                        "Please try again in 2s."}
DUPLICATES = 5


def run_demo(stack: Stack, user: DemoUser, feed, out: Callable[[str], None], timeout: float = 45.0) -> bool:
    """Publish the scenario, wait for its outcome, print what happened; True when it went as it should."""
    from functions.commands.publish import Publisher, build_event

    publisher = Publisher(stack.project, TOPIC)
    try:
        first = publisher.publish(build_event(user.uid, "openai", feature="chat", model="gpt-4o", **ACTIONABLE))
        out(f"demo: published an actionable error (OpenAI out of credit), message {first}")
        burst = [publisher.publish(build_event(user.uid, "openai", feature="chat", model="gpt-4o", **ACTIONABLE))
                 for _ in range(DUPLICATES)]
        out(f"demo: published a burst of {DUPLICATES} duplicates, messages {', '.join(burst)}")
        transient = publisher.publish(build_event(user.uid, "openai", feature="chat", model="gpt-4o", **TRANSIENT))
        out(f"demo: published a transient error (rate limit), message {transient}")
    finally:
        publisher.close()
    ids = [first, *burst, transient]

    def done() -> bool:
        outcomes = feed.outcomes()
        return all(i in outcomes for i in ids) and user.tablet in feed.deleted_documents()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        feed.poll()
        if stack.dead_part():
            out(f"demo: {stack.dead_part()} stopped unexpectedly")
            break
        time.sleep(0.1)
    time.sleep(0.3)  # a stray extra push would land now
    feed.poll(flush=True)
    return report(stack, user, feed, ids, transient, out)


def report(stack: Stack, user: DemoUser, feed, ids: list[str], transient: str,
           out: Callable[[str], None]) -> bool:
    from google.cloud import firestore

    outcomes = feed.outcomes()
    actionable = [outcomes.get(i, ["(no outcome)"])[-1] for i in ids[:-1]]
    transient_outcome = outcomes.get(transient, ["(no outcome)"])[-1]
    delivered = stack.fcm.delivered()
    to_phone = [m for m in delivered if m["message"].get("token") == user.phone_token]
    dead_tries = [m for m in stack.fcm.state.inbox if m["message"].get("token") == user.tablet_token]
    db = firestore.Client(project=stack.project)
    try:
        tablet_exists = db.document(user.tablet).get().exists
        phone_exists = db.document(user.phone).get().exists
    finally:
        db.close()
    tablet_marked = any(user.tablet.rsplit("/", 1)[-1] + ":marked" in (line.get("devices_marked") or [])
                        for line in feed.notifier_lines)
    sent, suppressed = actionable.count("sent"), actionable.count("suppressed")
    checks = [
        (f"actionable error + {DUPLICATES} duplicates -> 1 sent, {DUPLICATES} suppressed",
         sent == 1 and suppressed == DUPLICATES, f"{sent} sent, {suppressed} suppressed ({', '.join(actionable)})"),
        ("transient error -> not actionable, no push", transient_outcome == "not_actionable", transient_outcome),
        ("pushes delivered: exactly 1, to the phone", len(delivered) == 1 and len(to_phone) == 1,
         f"{len(delivered)} delivered, {len(to_phone)} to the phone"),
        ("dead tablet token: FCM said UNREGISTERED, marked", bool(dead_tries) and tablet_marked,
         f"{len(dead_tries)} send(s) rejected, marked={tablet_marked}"),
        ("dead tablet token deleted by the cleanup function",
         not tablet_exists and user.tablet in feed.deleted_documents(),
         "deleted" if not tablet_exists else "still there"),
        ("phone token kept", phone_exists, "kept" if phone_exists else "missing"),
    ]
    out("")
    out("What happened")
    if to_phone:
        note = to_phone[0]["message"].get("notification", {})
        out(f"  the phone shows: \"{note.get('title')}\"")
        out(f"                   {note.get('body')}")
    for label, ok, detail in checks:
        out(f"  [{'ok' if ok else 'FAIL'}] {label}: {detail}")
    passed = all(ok for _, ok, _ in checks)
    out(f"pushes delivered: {len(delivered)} (expected 1)")
    out("DEMO PASSED" if passed else "DEMO FAILED")
    return passed


# -- command line --------------------------------------------------------------------------------

def _install_signal_handlers(state: dict) -> None:
    def handler(signum, frame):  # noqa: ARG001
        if state.get("stopping"):
            return  # already stopping: let it finish
        state["stopping"] = True
        raise Interrupted(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev.sh", description="The whole BYOK notifier on this machine.")
    parser.add_argument("--demo", action="store_true",
                        help="run the demo scenario, print what happened, stop; exit 0 only if it went right")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo user and devices")
    parser.add_argument("--run-id", default=os.environ.get(MARKER) or f"devstack-{uuid.uuid4().hex[:12]}",
                        help=argparse.SUPPRESS)
    parser.add_argument("--sweep", metavar="RUN_ID", help=argparse.SUPPRESS)
    parser.add_argument("--log-dir", type=Path, help="where the services' logs go (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.sweep:
        left = sweep(args.sweep)
        if left:
            print(f"dev.sh: ended {len(left)} leftover process(es) of this run", file=sys.stderr)
        return 0

    sys.stdout.reconfigure(line_buffering=True)
    out = print
    state: dict = {}
    _install_signal_handlers(state)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="byok-devstack-"))
    stack = Stack(args.run_id, log_dir, redis_url=os.environ.get("REDIS_URL") or None, out=out)
    rc = 1
    try:
        out("Starting Redis, the Pub/Sub and Firestore emulators, the FCM server and both functions...")
        stack.start()
        from devstack.feed import Feed

        feed = Feed(stack.notifier.log_path, stack.cleanup.log_path, stack.fcm, out)
        out(stack.status_table())
        uid = "demo-user" if not stack.external_redis else f"demo-user-{uuid.uuid4().hex[:4]}"
        user = None if args.no_seed and not args.demo else seed_demo_user(stack.project, uid)
        if user:
            out(f"  demo user: {user.uid}, devices phone (receives) and tablet (token dead-..., app uninstalled)")
            seed_desktop_user(stack.project, user.uid + "-desktop")
            out(f"  desktop user: {user.uid}-desktop, no device, email {DESKTOP_EMAIL} (EMAIL_MODE=fallback)")
        out("")
        if args.demo:
            out("Live feed:")
            rc = 0 if run_demo(stack, user, feed, out) else 1
        else:
            uid_hint = user.uid if user else "<uid>"
            out("Try it, in another terminal:")
            out(f"  {stack.env_hint()} \\\n    .venv/bin/python -m functions publish --uid {uid_hint} "
                f"--provider openai --status 429 --code insufficient_quota --message 'You exceeded your current quota'")
            out("")
            out("Live feed (Ctrl-C stops everything):")
            while True:
                feed.poll()
                dead = stack.dead_part()
                if dead:
                    out(f"error: {dead} stopped unexpectedly; see {log_dir}")
                    break
                time.sleep(0.2)
    except Interrupted as exc:
        state["stopping"] = True
        out(f"\n{exc}: stopping everything...")
        rc = 0 if not args.demo else 130
    except StartError as exc:
        state["stopping"] = True
        out(f"error: could not start the stack: {exc}")
        rc = 1
    finally:
        state["stopping"] = True
        stack.stop()
        out(f"Stopped. Logs kept in {log_dir}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
