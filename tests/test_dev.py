"""./dev.sh as a newcomer runs it: the demo end to end, the start-up checks, and nothing left running.

Each test runs the real script as a subprocess (its own session, like a terminal's foreground job).
Every process the stack starts carries BYOK_DEVSTACK_RUN=<run id>; a test gives its own run id and
then looks through /proc for any process still carrying it.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from devstack.stack import MARKER, marked_processes

ROOT = Path(__file__).resolve().parent.parent
DEV = str(ROOT / "dev.sh")
# Variables a developer's shell (or another test) may have set that would change what dev.sh does.
_SCRUB = ("REDIS_URL", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "FCM_ENDPOINT",
          "GOOGLE_CLOUD_PROJECT", "DEDUP_WINDOW_SECONDS", "DELIVERY_LEASE_SECONDS", MARKER)


def dev_env(run_id: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env[MARKER] = run_id
    env.update(extra)
    return env


def new_run_id() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def assert_nothing_left(run_id: str) -> None:
    deadline = time.monotonic() + 10
    left = marked_processes(run_id)
    while left and time.monotonic() < deadline:  # a process in its last milliseconds
        time.sleep(0.2)
        left = marked_processes(run_id)
    details = []
    for pid in left:
        details.append(cmdline(pid).replace(b"\0", b" ").decode(errors="replace")[:200])
    assert not left, f"processes left running: {details}"


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Running:
    """./dev.sh in its own session, its output collected line by line."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([DEV, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    @property
    def output(self) -> str:
        with self.changed:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 120) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: any(re.search(pattern, line) for line in self.lines)
                                       or self.proc.poll() is not None, timeout)
        assert ok and any(re.search(pattern, line) for line in self.lines), \
            f"no line matching {pattern!r}:\n{self.output}"

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise

    def kill_all(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- the demo -----------------------------------------------------------------------------------

def test_demo_gives_one_push_and_removes_the_dead_token():
    run_id = new_run_id()
    proc = subprocess.run([DEV, "--demo"], cwd=ROOT, env=dev_env(run_id), capture_output=True, text=True,
                          timeout=240, start_new_session=True)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "DEMO PASSED" in out
    assert "pushes delivered: 1 (expected 1)" in out
    assert "[FAIL]" not in out and out.count("[ok]") == 6
    assert "1 sent, 5 suppressed" in out
    assert "transient error -> not actionable, no push: not_actionable" in out
    # the live feed shows each step, in order, for the event that was delivered
    steps = [r"event \d+ received uid=demo-user provider=openai", r"classified: quota_exhausted",
             r"sent: 1 of 2 device\(s\) accepted, 1 dead", r"push delivered to demo-user/phone",
             r"token marked invalid: demo-user/tablet",
             r"token deleted: users/demo-user/fcm_tokens/tablet \(UNREGISTERED\)"]
    lines = out.splitlines()
    sent_at = next(i for i, line in enumerate(lines) if re.search(steps[2], line))
    received_at = max(i for i, line in enumerate(lines[:sent_at]) if re.search(steps[0], line))
    positions = [received_at, sent_at - 1, sent_at] + [
        next(i for i, line in enumerate(lines) if re.search(step, line)) for step in steps[3:]]
    assert re.search(steps[1], lines[sent_at - 1])
    assert positions == sorted(positions), out
    assert "classified: not actionable (429 rate_limit_exceeded" in out
    assert out.count("suppressed (dedup)") == 5
    assert "dead-tablet" not in out and "ok-phone" not in out  # tokens are never printed
    assert_nothing_left(run_id)


# -- start-up checks ----------------------------------------------------------------------------

def path_without(tmp_path: Path, *names: str) -> str:
    """A PATH with every command of the current one except `names` (symlinks in one directory)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for name in entries:
            link = bin_dir / name
            if name in names or link.exists() or link.is_symlink():
                continue
            full = os.path.join(directory, name)
            if os.path.isfile(full) and os.access(full, os.X_OK):
                link.symlink_to(full)
    return str(bin_dir)


@pytest.mark.parametrize("missing, message", [
    ("redis-server", "redis-server (apt-get install redis-server), or REDIS_URL pointing at a Redis 7+"),
    ("java", "Java 17 or newer, for the emulators (apt-get install openjdk-17-jre-headless)"),
    ("gcloud", "the gcloud CLI (https://cloud.google.com/sdk/docs/install)"),
])
def test_a_missing_tool_is_named_with_how_to_install_it(tmp_path, missing, message):
    run_id = new_run_id()
    env = dev_env(run_id, PATH=path_without(tmp_path, missing))
    proc = subprocess.run([DEV], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Missing prerequisites:\n"), proc.stderr
    assert f"  - {message}" in proc.stderr.splitlines()
    assert len(proc.stderr.strip().splitlines()) == 2  # only the missing tool is named
    assert "Starting" not in proc.stdout  # stopped before anything started
    assert_nothing_left(run_id)


# -- clean shutdown -----------------------------------------------------------------------------

def _ports(output: str) -> list[int]:
    table = output.split("logs:")[0]
    return sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", table)})


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm-to-wrapper", "stack-killed"])
def test_stopping_leaves_no_process_and_no_port(how):
    """Ctrl-C (SIGINT to the whole foreground group), SIGTERM to dev.sh only, or the Python stack
    SIGKILLed (its own cleanup never runs: dev.sh's exit trap sweeps)."""
    run_id = new_run_id()
    dev = Running(env=dev_env(run_id))
    try:
        dev.wait_for_line(r"^Live feed")
        ports = _ports(dev.output)
        assert len(ports) == 7, dev.output  # redis, pubsub, firestore, adapter, 2 functions, fcm page
        assert all(port_open(p) for p in ports)
        assert len(marked_processes(run_id)) >= 5
        if how == "ctrl-c":
            os.killpg(dev.proc.pid, signal.SIGINT)
        elif how == "sigterm-to-wrapper":
            os.kill(dev.proc.pid, signal.SIGTERM)
        else:
            stack = [pid for pid in marked_processes(run_id)
                     if b"devstack.stack" in cmdline(pid)]
            assert len(stack) == 1
            os.kill(stack[0], signal.SIGKILL)
        dev.wait(90)
    finally:
        dev.kill_all()
    assert_nothing_left(run_id)
    still = [p for p in ports if port_open(p)]
    assert not still, (still, dev.output, subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout)
    if how != "stack-killed":
        assert "stopping everything" in dev.output and "Stopped." in dev.output


def test_ctrl_c_while_the_emulators_are_starting_stops_them_too():
    run_id = new_run_id()
    dev = Running(env=dev_env(run_id))
    try:
        dev.wait_for_line(r"^Starting")
        deadline = time.monotonic() + 30  # until the emulators' java processes exist
        while time.monotonic() < deadline and sum(
                b"java" in cmdline(pid) for pid in marked_processes(run_id)) < 2:
            time.sleep(0.1)
        assert "Live feed" not in dev.output  # still starting
        os.killpg(dev.proc.pid, signal.SIGINT)
        dev.wait(90)
    finally:
        dev.kill_all()
    assert "stopping everything" in dev.output and "Stopped." in dev.output
    assert_nothing_left(run_id)


def test_a_start_that_fails_half_way_stops_what_already_started():
    """The functions refuse a malformed configuration at start, while the emulators are starting."""
    run_id = new_run_id()
    proc = subprocess.run([DEV], cwd=ROOT, env=dev_env(run_id, DEDUP_WINDOW_SECONDS="soon"),
                          capture_output=True, text=True, timeout=180, start_new_session=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: could not start the stack:" in proc.stdout
    assert "notifier (functions-framework --target notify_byok_llm_error) exited at start" in proc.stdout
    assert "DEDUP_WINDOW_SECONDS must be a whole number of seconds" in proc.stdout
    assert "Stopped." in proc.stdout
    assert_nothing_left(run_id)


# -- the feed, from log lines ---------------------------------------------------------------------

def test_feed_prints_one_line_per_step_and_keeps_pushes_under_their_event(tmp_path):
    """Pure feed logic: JSON log lines and FCM inbox entries in, readable steps out (no tokens)."""
    import json as _json

    from devstack.fcm_server import FcmServer
    from devstack.feed import Feed

    notifier, cleanup = tmp_path / "notifier.log", tmp_path / "cleanup.log"
    notifier.write_text("")
    cleanup.write_text("[gunicorn] Booting worker\n")
    fcm = FcmServer()  # not started: only its inbox is used
    printed: list[str] = []
    feed = Feed(notifier, cleanup, fcm, lambda line: printed.append(re.sub(r"^\d\d:\d\d:\d\d  \S+\s+", "", line)))
    fcm.state.record("p", {"token": "ok-secret-token", "notification": {"title": "Your OpenAI key is out of credit"}},
                     200, "ok")
    feed.poll()
    assert printed == []  # the push waits for its event's log line
    lines = [
        {"event_id": "7", "uid": "u1", "provider": "openai", "reason": "quota_exhausted", "outcome": "sent",
         "targets": 1, "accepted": 1, "dead": 0, "reminder": False},
        {"event_id": "8", "uid": "u1", "provider": "openai", "outcome": "not_actionable", "status_code": 503},
        {"event_id": "9", "uid": "u1", "provider": "openai", "outcome": "recovered", "cleared": 1},
        {"event_id": "10", "outcome": "invalid_event", "problem": "version must be 1"},
    ]
    with open(notifier, "a") as fh:
        fh.write("\n".join(_json.dumps(line) for line in lines) + "\n" + '{"partial": ')
    with open(cleanup, "a") as fh:
        fh.write(_json.dumps({"outcome": "ignored", "document": "users/u1/fcm_tokens/a"}) + "\n")
        fh.write(_json.dumps({"outcome": "deleted", "document": "users/u1/fcm_tokens/b",
                              "invalid_reason": "UNREGISTERED"}) + "\n")
    feed.poll()
    assert printed[:4] == ["event 7 received uid=u1 provider=openai", "classified: quota_exhausted",
                           "sent: 1 of 1 device(s) accepted",
                           'push delivered to device with token ok-secret-...: "Your OpenAI key is out of credit"']
    assert "classified: not actionable (503)" in printed
    assert "recovered: the key works again; 1 alert mark(s) cleared" in printed
    assert "invalid event, acknowledged: version must be 1" in printed
    assert printed[-1] == "token deleted: users/u1/fcm_tokens/b (UNREGISTERED)"
    assert not any("users/u1/fcm_tokens/a" in p for p in printed)  # "ignored" is not a step
    assert not any("ok-secret-token" in p for p in printed)
    assert feed.outcomes() == {"7": ["sent"], "8": ["not_actionable"], "9": ["recovered"], "10": ["invalid_event"]}
    assert feed.deleted_documents() == {"users/u1/fcm_tokens/b"}
    fcm.httpd.server_close()


def test_dev_sh_passes_shellcheck():
    import shutil

    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (test.sh installs it as root)")
    proc = subprocess.run(["shellcheck", "-x", "dev.sh"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
