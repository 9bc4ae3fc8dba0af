"""Bridge the Firestore emulator's trigger deliveries to a functions-framework server, as production sends them.

The Firestore emulator (started with `--functions_emulator=HOST:PORT`) POSTs a binary-mode CloudEvent to
`http://HOST:PORT/functions/projects/{project}/triggers/{trigger_id}` for every write matching a
registered Eventarc trigger. Two quirks differ from production (see shared platform facts):

  * the body is the base64 TEXT of the `DocumentEventData` protobuf (production: the raw bytes);
  * `ce-source` reads `//firestore.googleapis.com/projects/projects/{p}/...` (one `projects/` too many).

This adapter listens on that port, fixes both and forwards the event to a functions-framework URL with
`Content-Type: application/protobuf` and every other `ce-` header (id, type, subject, time and the
`document`, `database`, `namespace`, `location`, `project` extension attributes) unchanged, so the
production function runs unmodified. It answers the emulator with the function's status code.

    python -m devstack.trigger_adapter --port P --target http://127.0.0.1:8080/ \
        [--emulator HOST:PORT --project demo-x]   # also register the trigger

The emulator delivers one event at a time, never retries, and forgets registrations on restart
(register again after each start). `hold()` / `release()` delay forwarding, which lets a test or a
demo make a write land between a marking and its cleanup, as Eventarc latency does in production.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WRITTEN = "google.cloud.firestore.document.v1.written"
TOKEN_DOCUMENTS = "users/{uid}/fcm_tokens/{device}"
_PATH = re.compile(r"^/functions/projects/(?P<project>[^/]+)/triggers/(?P<trigger>[^/?]+)/?$")
_DOUBLED = re.compile(r"^(//firestore\.googleapis\.com/)projects/(projects/)")


def fix_source(source: str) -> str:
    """`//firestore.googleapis.com/projects/projects/p/databases/(default)` -> `.../projects/p/...`."""
    return _DOUBLED.sub(r"\1\2", source, count=1)


def decode_body(body: bytes) -> bytes:
    """The raw protobuf bytes of an emulator delivery (base64 text), or the body if already binary."""
    text = body.strip()
    if not text:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return body  # not base64: pass it through, the function decides whether it is valid


def production_headers(emulator_headers) -> dict[str, str]:
    """The headers production (Eventarc) would send for this delivery."""
    out: dict[str, str] = {}
    for name, value in emulator_headers.items():
        lower = name.lower()
        if lower.startswith("ce-"):
            out[lower] = fix_source(value) if lower == "ce-source" else value
    out["content-type"] = "application/protobuf"
    return out


def register_trigger(emulator: str, project: str, trigger_id: str,
                     document_pattern: str = TOKEN_DOCUMENTS, event_type: str = WRITTEN,
                     database: str = "(default)", namespace: str = "(default)") -> dict:
    """Register a 2nd gen (Eventarc) Firestore trigger with the emulator at `emulator` (HOST:PORT)."""
    body = json.dumps({
        "eventType": event_type, "database": database, "namespace": namespace,
        "document": {"value": document_pattern, "matchType": "PATH_PATTERN"},
    }).encode()
    req = urllib.request.Request(
        f"http://{emulator}/emulator/v1/projects/{project}/eventarcTrigger?eventarcTriggerId={trigger_id}",
        data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


@dataclass
class Delivery:
    """One forwarded event, for tests and the local stack's log."""

    project: str
    trigger: str
    event_id: str
    document: str
    status: int


class TriggerAdapter:
    """An HTTP server on `port` forwarding emulator deliveries to `target` (a functions-framework URL)."""

    def __init__(self, target: str, port: int = 0, host: str = "127.0.0.1", timeout: float = 120.0):
        self.target = target
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection. The emulator's client keeps connections alive, and a
            # kept connection would outlive stop() and feed a stopped adapter's forwarding thread.
            protocol_version = "HTTP/1.0"

            def do_POST(self):  # noqa: N802 - http.server API
                adapter._handle(self)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "TriggerAdapter":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="trigger-adapter")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._open.set()
        self._server.shutdown()
        self._server.server_close()

    # -- holding deliveries ----------------------------------------------------------------------
    def hold(self) -> None:
        """Keep incoming deliveries waiting (not lost) until release()."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for(self, predicate, timeout: float = 30.0) -> list[Delivery]:
        """Block until predicate(deliveries) is true; returns the deliveries (TimeoutError if never)."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(list(self.deliveries)), timeout):
                raise TimeoutError(f"deliveries so far: {self.deliveries}")
            return list(self.deliveries)

    # -- forwarding ------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        match = _PATH.match(request.path)
        if not match:
            self._reply(request, 404, b"not a trigger path\n")
            return
        self._open.wait()
        data = decode_body(body)
        headers = production_headers(request.headers)
        status, answer = self._forward(data, headers)
        with self._changed:
            self.deliveries.append(Delivery(match["project"], match["trigger"], headers.get("ce-id", ""),
                                            headers.get("ce-document", ""), status))
            self._changed.notify_all()
        self._reply(request, status, answer)

    def _forward(self, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.target, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:  # function not running: the emulator would lose the event anyway
            print(f"trigger_adapter: cannot reach {self.target}: {exc}", file=sys.stderr, flush=True)
            return 502, b"function unreachable\n"

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Connection", "close")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.trigger_adapter", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="where the emulator delivers (--functions_emulator)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--target", required=True, help="functions-framework URL, e.g. http://127.0.0.1:8081/")
    parser.add_argument("--emulator", help="Firestore emulator HOST:PORT: register the trigger there first")
    parser.add_argument("--project", help="project id to register the trigger for (with --emulator)")
    parser.add_argument("--trigger-id", default="cleanup_invalid_fcm_tokens")
    args = parser.parse_args(argv)
    if args.emulator and not args.project:
        parser.error("--emulator needs --project")
    adapter = TriggerAdapter(args.target, port=args.port, host=args.host).start()
    if args.emulator:
        register_trigger(args.emulator, args.project, args.trigger_id)
        print(f"trigger_adapter: registered {args.trigger_id} for project {args.project} at {args.emulator}",
              flush=True)
    print(f"trigger_adapter: http://{args.host}:{adapter.port} -> {args.target}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        adapter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
