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
"""
from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def make_handler(state: FcmState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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
            if self.path == "/_inbox":
                with state.lock:
                    self._send(200, {"messages": list(state.inbox), "requests": state.requests})
            elif self.path in ("/", "/_health"):
                self._send(200, {"ok": True})
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
                return self._send(200, {"name": f"projects/{project}/messages/0:{next(state.ids)}%fake"})
            status, payload = error_body(behaviour)
            state.record(project, message, status, behaviour)
            return self._send(status, payload)

    return Handler


class FcmServer:
    """The server on a background thread; `url` is what FCM_ENDPOINT takes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = FcmState()
        self.httpd = ThreadingHTTPServer((host, port), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fcm-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FcmServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def delivered(self) -> list[dict]:
        """Messages FCM accepted, in arrival order."""
        with self.state.lock:
            return [m for m in self.state.inbox if m["status"] == 200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    args = parser.parse_args()
    server = FcmServer(args.host, args.port)
    print(json.dumps({"severity": "INFO", "message": "fcm server listening", "url": server.url}), flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
