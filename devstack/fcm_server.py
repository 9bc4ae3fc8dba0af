"""A local FCM HTTP v1 server: the real wire format, with behaviour chosen per token.

firebase-admin is pointed at it through FCM_ENDPOINT. It answers `POST /v1/projects/{p}/messages:send`
exactly as FCM does (success body, error bodies with `google.firebase.fcm.v1.FcmError` details), so
the production code path runs unchanged. A token's prefix picks the answer:

    dead-      404 NOT_FOUND / UNREGISTERED          (app uninstalled)
    bad-       400 INVALID_ARGUMENT (invalid registration token)
    mismatch-  403 PERMISSION_DENIED / SENDER_ID_MISMATCH
    quota-     429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED
    down-      503 UNAVAILABLE
    internal-  500 INTERNAL
    apns-      401 UNAUTHENTICATED / THIRD_PARTY_AUTH_ERROR
    hang-      no answer for `hang_seconds` (default 30)
    anything else: 200 {"name": "projects/p/messages/..."}

Control endpoints (tests and the local stack): `GET /_inbox`, `DELETE /_inbox`, `POST /_control`
with {"fail_next": N, "fail_status": 503} (the next N sends fail whatever the token),
{"tokens": {"<token>": "dead"}} (per-token override) or {"hang_seconds": S}; `POST /_reset`.

For people, `GET /` serves a page (devstack/page.html) that polls `GET /_state`: an inbox per device
showing each push as a phone would, and, when the server is given a Redis URL and a Firestore
emulator address, the notifier's dedup state, the token documents marked or deleted and the
emails written for the Trigger Email extension (devstack/observe.py). `GET /_health` answers {"ok": true}.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

ERRORS: dict[str, tuple[int, str, str, str]] = {
    # behaviour: (http status, canonical status, FcmError code, message), as FCM sends them
    "dead": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "bad": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token"),
    "mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
              "Quota exceeded for quota metric 'Send messages' and limit 'Send messages per minute'."),
    "down": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "apns": (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"),
}
PREFIXES = {f"{name}-": name for name in (*ERRORS, "hang")}
PAGE = Path(__file__).resolve().parent / "page.html"


def error_body(behaviour: str, extra_details: list | None = None) -> tuple[int, dict]:
    status, canonical, fcm_code, message = ERRORS[behaviour]
    details: list[dict[str, Any]] = [{"@type": FCM_ERROR, "errorCode": fcm_code}]
    if behaviour == "bad":
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": "message.token",
                                             "description": "Invalid registration token"}]})
    details.extend(extra_details or [])
    return status, {"error": {"code": status, "message": message, "status": canonical, "details": details}}


def _payload_error(message: str) -> tuple[int, dict]:
    return 400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT",
                           "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                        "fieldViolations": [{"field": "message", "description": message}]}]}}


class FcmState:
    """What the server has received and how it should answer; shared by all handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.inbox: list[dict] = []
            self.overrides: dict[str, str] = {}
            self.fail_next = 0
            self.fail_status = 503
            self.hang_seconds = 30.0
            self.requests = 0
            # run once, in the server, right after the next message is accepted and before the answer goes back:
            # a test's way to make something else happen at exactly that moment (Redis lost after the push)
            self.after_accept = None

    def behaviour_for(self, target: str) -> str:
        with self.lock:
            self.requests += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                return {503: "down", 500: "internal", 429: "quota"}.get(self.fail_status, "down")
            if target in self.overrides:
                return self.overrides[target]
        for prefix, name in PREFIXES.items():
            if target.startswith(prefix):
                return name
        return "ok"

    def record(self, project: str, message: dict, status: int, behaviour: str) -> None:
        with self.lock:
            self.inbox.append({"project": project, "message": message, "status": status,
                               "behaviour": behaviour, "at": time.time()})


def validate(body: Any) -> tuple[dict | None, tuple[int, dict] | None]:
    """The checks FCM makes on the request itself; a failure here is our own payload bug."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return None, _payload_error("Invalid JSON payload received. Unknown name or missing \"message\".")
    message = body["message"]
    targets = [k for k in ("token", "topic", "condition", "fid") if k in message]
    if len(targets) != 1:
        return None, _payload_error("Exactly one of token, topic, condition or fid must be set.")
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None, _payload_error("Invalid value at 'message.data': values must be strings.")
    return message, None


class Observers:
    """The optional views the page shows beside the inbox (devstack/observe.py)."""

    def __init__(self, redis_url: str | None = None, firestore: str | None = None,
                 project: str | None = None) -> None:
        self.redis_url, self.firestore, self.project = redis_url, firestore, project or "demo-byok-local"
        self.dedup = None
        self.tokens = None
        self.mail = None

    def start(self) -> None:
        from . import observe

        if self.redis_url:
            self.dedup = observe.DedupView(self.redis_url)
        if self.firestore:
            self.tokens = observe.TokenTracker(self.firestore, self.project).start()
            self.mail = observe.MailView(self.firestore, self.project)

    def stop(self) -> None:
        if self.tokens:
            self.tokens.stop()
        if self.dedup:
            self.dedup.close()


def _push_view(entry: dict) -> dict:
    """One inbox entry as a phone shows it; the target token is never sent to the page whole."""
    message = entry.get("message") or {}
    note = message.get("notification") or {}
    data = message.get("data") or {}
    return {"at": entry.get("at"), "status": entry.get("status"), "behaviour": entry.get("behaviour"),
            "title": note.get("title"), "body": note.get("body"), "provider": data.get("provider"),
            "provider_name": data.get("provider_name"), "reason": data.get("reason"),
            "action_url": data.get("action_url") or None,
            "error": None if entry.get("status") == 200 else ERRORS.get(entry.get("behaviour"), (0, "", "?"))[2]}


def page_state(state: FcmState, observers: "Observers | None") -> dict:
    """Everything the page draws, as JSON: devices with their pushes, dedup keys, token documents."""
    from .observe import token_hint

    with state.lock:
        inbox = list(state.inbox)
        requests = state.requests
    tokens: list[dict] = []
    owners: dict[str, tuple[str, str]] = {}
    current: dict[str, str] = {}
    dedup: list[dict] = []
    problems: dict[str, str] = {}
    if observers and observers.tokens:
        tokens, owners, current, problem = observers.tokens.snapshot()
        if problem:
            problems["firestore"] = problem
    mails: list[dict] = []
    if observers and observers.mail:
        try:
            mails = observers.mail.snapshot()
        except Exception as exc:  # noqa: BLE001 - shown on the page, the server keeps serving
            problems["mail"] = f"{type(exc).__name__}: {exc}"
    if observers and observers.dedup:
        try:
            dedup = observers.dedup.snapshot()
        except Exception as exc:  # noqa: BLE001 - shown on the page, the server keeps serving
            problems["redis"] = f"{type(exc).__name__}: {exc}"
    devices: dict[str, dict] = {}
    by_path = {t["path"]: t for t in tokens}
    for token, (uid, device) in owners.items():
        path = f"users/{uid}/fcm_tokens/{device}"
        doc = by_path.get(path)
        same = doc is not None and (doc["state"] == "deleted" or current.get(path) == token)
        devices.setdefault(token, {"uid": uid, "device": device, "token_hint": token_hint(token),
                                   "state": doc["state"] if same else "replaced", "pushes": []})
    for entry in inbox:
        message = entry.get("message") or {}
        target = message.get("token") or message.get("fid") or message.get("topic") or ""
        if target not in devices:
            uid, device = owners.get(target, (None, None))
            devices[target] = {"uid": uid, "device": device, "token_hint": token_hint(target),
                               "state": "unknown", "pushes": []}
        devices[target]["pushes"].append(_push_view(entry))
    for dev in devices.values():
        dev["pushes"].sort(key=lambda p: p["at"] or 0, reverse=True)
        dev["delivered"] = sum(1 for p in dev["pushes"] if p["status"] == 200)
    ordered = sorted(devices.values(), key=lambda d: (d["uid"] or "~", d["device"] or d["token_hint"]))
    return {"now": time.time(), "requests": requests, "devices": ordered, "dedup": dedup, "tokens": tokens,
            "mails": mails,
            "sources": {"redis": bool(observers and observers.dedup),
                        "firestore": bool(observers and observers.tokens)},
            "problems": problems}


def make_handler(state: FcmState, observers: "Observers | None" = None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two sends: no 40 ms delayed-ACK stall

        def log_message(self, *args: Any) -> None:  # quiet: tests read the inbox instead
            pass

        def _send(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw or b"null")
            except ValueError:
                return None

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/_inbox":
                with state.lock:
                    self._send(200, {"messages": list(state.inbox), "requests": state.requests})
            elif path == "/_health":
                self._send(200, {"ok": True})
            elif path in ("/", "/index.html"):
                raw = PAGE.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=UTF-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            elif path == "/_state":
                self._send(200, page_state(state, observers))
            else:
                self._send(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})

        def do_DELETE(self) -> None:
            if self.path == "/_inbox":
                with state.lock:
                    state.inbox.clear()
                    state.requests = 0
                self._send(200, {})
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            if self.path == "/_reset":
                state.reset()
                return self._send(200, {})
            if self.path == "/_control":
                body = self._body() or {}
                with state.lock:
                    state.overrides.update(body.get("tokens", {}))
                    if "fail_next" in body:
                        state.fail_next = int(body["fail_next"])
                        state.fail_status = int(body.get("fail_status", 503))
                    if "hang_seconds" in body:
                        state.hang_seconds = float(body["hang_seconds"])
                return self._send(200, {})
            parts = self.path.split("/")
            # /v1/projects/{project}/messages:send
            if len(parts) != 5 or parts[1] != "v1" or parts[2] != "projects" or parts[4] != "messages:send":
                return self._send(404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}})
            project = parts[3]
            message, problem = validate(self._body())
            if problem:
                state.record(project, message or {}, problem[0], "payload_error")
                return self._send(*problem)
            target = message.get("token") or message.get("fid") or message.get("topic") or ""
            behaviour = state.behaviour_for(target)
            if behaviour == "hang":
                time.sleep(state.hang_seconds)
                return self._send(*error_body("down"))
            if behaviour == "ok":
                state.record(project, message, 200, behaviour)
                with state.lock:
                    hook, state.after_accept = state.after_accept, None
                if hook is not None:
                    hook()
                return self._send(200, {"name": f"projects/{project}/messages/0:{next(state.ids)}%fake"})
            status, payload = error_body(behaviour)
            state.record(project, message, status, behaviour)
            return self._send(status, payload)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # a browser tab closed mid-poll: nothing to report
        super().handle_error(request, client_address)


class FcmServer:
    """The server on a background thread; `url` is what FCM_ENDPOINT takes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, redis_url: str | None = None,
                 firestore: str | None = None, project: str | None = None) -> None:
        """`redis_url`, `firestore` (emulator HOST:PORT) and `project` only feed the page."""
        self.state = FcmState()
        self.observers = Observers(redis_url, firestore, project)
        self.httpd = _Server((host, port), make_handler(self.state, self.observers))
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fcm-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FcmServer":
        self.observers.start()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.observers.stop()

    def delivered(self) -> list[dict]:
        """Messages FCM accepted, in arrival order."""
        with self.state.lock:
            return [m for m in self.state.inbox if m["status"] == 200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--redis-url", help="show the notifier's dedup state from this Redis on the page")
    parser.add_argument("--firestore", help="Firestore emulator HOST:PORT: show token documents on the page")
    parser.add_argument("--project", default="demo-byok-local", help="project id of the Firestore documents")
    args = parser.parse_args()
    server = FcmServer(args.host, args.port, args.redis_url, args.firestore, args.project)
    server.observers.start()
    print(json.dumps({"severity": "INFO", "message": "fcm server listening", "url": server.url}), flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.observers.stop()


if __name__ == "__main__":
    main()
