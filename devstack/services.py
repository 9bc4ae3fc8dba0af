"""Start and stop the real local services: Redis, the Firestore and Pub/Sub emulators.

Used by the test fixtures and by ./dev.sh. Each service runs in its own process group on a free
loopback port, so stopping it also ends the java child the emulator launchers start.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack import leftovers

HOST = "127.0.0.1"

# Every service started in this process, stopped or not: the test session checks at its end that
# none of their process groups has a member left (devstack/leftovers.py).
STARTED: list["Service"] = []


_HANDED_OUT: set[int] = set()
_PORTS_LOCK = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port that was free a moment ago on the loopback interface, below the kernel's ephemeral range.

    A port the kernel hands out for `bind(0)` comes from the ephemeral range, where any outgoing connection or any
    other `bind(0)` (an emulator's own websocket port) may take it before the service we start binds it; below that
    range only an explicit bind can. Never the same port twice in one process."""
    low, _ = _ephemeral_range()
    with _PORTS_LOCK:
        for _ in range(200):
            port = random.randrange(10000, max(low, 10001))
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:   # a crowded range: the kernel's choice
            s.bind((HOST, 0))
            return s.getsockname()[1]


def gcloud_sdk_root() -> Path:
    """The gcloud SDK's install root, where the emulator components live."""
    env = os.environ.get("CLOUDSDK_ROOT_DIR")
    if env:
        return Path(env)
    gcloud = shutil.which("gcloud")
    if not gcloud:
        raise RuntimeError("gcloud is not installed: see README.md, 'Prerequisites'")
    out = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return Path(out.stdout.strip())


@dataclass
class Service:
    """A started local service: its name, address and process group."""

    name: str
    host: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """End the whole process group: SIGTERM, then SIGKILL if it lingers; return once no member is left."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            else:
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(5)
        # The launcher may have exited before its java child (or before it was asked to): sweep the group, and
        # wait until it is empty, since a killed JVM takes a moment to tear down.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10.0
        while leftovers.find(groups=[self.proc.pid]) and time.monotonic() < deadline:
            time.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(name: str, argv: list[str], port: int, log_dir: Path, env: dict | None = None) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, **(env or {})},
    )
    log.close()
    svc = Service(name, HOST, port, proc, log_path)
    STARTED.append(svc)
    return svc


def _wait(service: Service, ready, timeout: float, what: str | None = None) -> Service:
    what = what or service.name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{what} exited at start:\n{service.log_tail()}")
        try:
            if ready():
                return service
        except OSError:
            pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{service.log_tail()}")


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.status == 200


def start_redis(port: int | None = None, log_dir: Path | None = None, *extra_args: str) -> Service:
    """A throw-away redis-server that keeps nothing on disk."""
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="byok-redis-"))
    argv = [exe, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
            "--dir", str(log_dir), *extra_args]
    svc = _spawn("redis", argv, port, log_dir)

    def ready() -> bool:
        with socket.create_connection((HOST, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    return _wait(svc, ready, 20)


def start_firestore_emulator(port: int | None = None, log_dir: Path | None = None,
                             functions_emulator: str | None = None, rules: Path | None = None) -> Service:
    """The official Firestore emulator; with functions_emulator it delivers trigger events there,
    with `rules` (a firestore.rules file) it judges client requests by those security rules."""
    launcher = gcloud_sdk_root() / "platform/cloud-firestore-emulator/cloud_firestore_emulator"
    if not launcher.exists():
        raise RuntimeError("Firestore emulator missing: gcloud components install cloud-firestore-emulator "
                           "(or apt-get install google-cloud-cli-firestore-emulator)")
    port = port or free_port()
    argv = [str(launcher), "start", f"--host={HOST}", f"--port={port}"]
    if functions_emulator:
        argv.append(f"--functions_emulator={functions_emulator}")
    if rules:
        argv.append(f"--rules={Path(rules).resolve()}")
    svc = _spawn("firestore", argv, port, log_dir or Path(tempfile.mkdtemp(prefix="byok-fs-")))
    svc.extra["functions_emulator"] = functions_emulator
    return _wait(svc, lambda: _http_ok(f"http://{HOST}:{port}/"), 90)


def start_pubsub_emulator(port: int | None = None, log_dir: Path | None = None) -> Service:
    """The official Pub/Sub emulator (in-memory)."""
    launcher = gcloud_sdk_root() / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
    if not launcher.exists():
        raise RuntimeError("Pub/Sub emulator missing: gcloud components install pubsub-emulator "
                           "(or apt-get install google-cloud-cli-pubsub-emulator)")
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="byok-ps-"))
    argv = [str(launcher), f"--host={HOST}", f"--port={port}"]
    svc = _spawn("pubsub", argv, port, log_dir)
    return _wait(svc, lambda: _http_ok(f"http://{HOST}:{port}/"), 90)


def firebase_cli(root: Path | None = None) -> Path | None:
    """The Firebase CLI test.sh installs into .venv/node (devstack/firebase-tools.version), else one on PATH."""
    root = root or Path(__file__).resolve().parent.parent
    local = root / ".venv/node/node_modules/.bin/firebase"
    if local.exists():
        return local
    found = shutil.which("firebase")
    return Path(found) if found else None


def start_auth_emulator(project: str, port: int | None = None, log_dir: Path | None = None) -> Service:
    """The Firebase Auth emulator (part of the Firebase CLI, firebase-tools on npm); no Google account needed.

    Its hub and logging ports are free ones too, so several runs can share a machine.
    firebase-admin reaches it through FIREBASE_AUTH_EMULATOR_HOST=HOST:PORT.
    """
    cli = firebase_cli()
    if cli is None:
        raise RuntimeError("the Firebase CLI is missing: ./test.sh installs it into .venv/node with npm "
                           "(or npm install -g firebase-tools)")
    port = port or free_port()
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="byok-auth-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    conf = log_dir / f"firebase-auth-{port}.json"
    conf.write_text(json.dumps({"emulators": {
        "auth": {"host": HOST, "port": port}, "hub": {"host": HOST, "port": free_port()},
        "logging": {"host": HOST, "port": free_port()}, "ui": {"enabled": False}}}))
    argv = [str(cli), "emulators:start", "--only", "auth", "--project", project, "--config", str(conf)]
    svc = _spawn("auth", argv, port, log_dir, env={"NO_UPDATE_NOTIFIER": "1", "FIREBASE_CLI_EXPERIMENTS": ""})

    def ready() -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=2) as resp:
            return bool(json.load(resp).get("authEmulator", {}).get("ready"))

    return _wait(svc, ready, 120, what="Firebase Auth emulator")


def clear_firestore(emulator: str, project: str) -> None:
    """Delete every document of a project in the Firestore emulator."""
    req = urllib.request.Request(
        f"http://{emulator}/emulator/v1/projects/{project}/databases/(default)/documents",
        method="DELETE")
    urllib.request.urlopen(req, timeout=10).read()


def start_function(target: str, env: dict[str, str], port: int | None = None, log_dir: Path | None = None,
                   root: Path | None = None, name: str | None = None, on_spawn=None,
                   timeout: float = 60.0) -> Service:
    """One Cloud Function under functions-framework, as the local stand-in for a 2nd gen instance.

    Ready once it answers HTTP (any status: a GET is not a CloudEvent), which is after main.py has
    been imported, so a misconfigured function fails here. `on_spawn(service)` runs right after the
    process starts, for callers that must be able to stop a half-started function.
    """
    root = root or Path(__file__).resolve().parent.parent
    port = port or free_port()
    name = name or target
    exe = root / ".venv/bin/functions-framework"
    argv = [str(exe) if exe.exists() else "functions-framework", "--target", target,
            "--signature-type", "cloudevent", "--host", HOST, "--port", str(port), "--source",
            str(root / "main.py")]
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="byok-fn-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(root),
                                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"})
    svc = Service(name, HOST, port, proc, log_path)
    STARTED.append(svc)
    if on_spawn is not None:
        on_spawn(svc)

    def ready() -> bool:
        try:
            urllib.request.urlopen(svc.url, timeout=1).close()
        except urllib.error.HTTPError:
            pass  # it answers
        return True

    return _wait(svc, ready, timeout, what=f"{name} (functions-framework --target {target})")
