"""The backend's whole path in one process: byok_reporter.Reporter -> the Pub/Sub emulator -> the
notifier's handle_pubsub_event -> the local FCM server; and local fake providers that answer the
failing call and the probe separately, recording every request they get.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT = "demo-byok-test"
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "schemas/byok-error-event.v1.json").read_text())


def validate(event: dict) -> None:
    """Valid against the contract's JSON Schema (verification included)."""
    from jsonschema import Draft202012Validator

    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event)


class FakeHost:
    """A provider on 127.0.0.1: `route(method, path, status, body)` answers one path (the query is
    ignored), `delay` seconds late when set, and `keyless` (status, body) instead to a request that
    carries no Authorization header; anything else answers 404. Records every hit."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, Any, float, dict]] = {}
        self.gates: dict[tuple[str, str], threading.Event] = {}
        self.keyless: dict[tuple[str, str], tuple[int, Any]] = {}
        self.hits: list[dict] = []
        self.answered: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                outer.hits.append({"method": self.command, "path": self.path,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, body, delay, headers = outer.routes.get((self.command, path),
                                                                (404, {"error": "not found"}, 0.0, {}))
                if (self.command, path) in outer.keyless and "authorization" not in self.headers:
                    status, body = outer.keyless[(self.command, path)]
                if delay:
                    time.sleep(delay)
                gate = outer.gates.get((self.command, path))
                if gate is not None:
                    gate.wait(timeout=10)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                # recorded before the bytes go out: a client that has read the answer finds it here
                outer.answered.append(path)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "text/plain" if isinstance(body, bytes) else "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass                                  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, status: int, body: Any, delay: float = 0.0,
              headers: dict | None = None, gate: threading.Event | None = None,
              keyless: tuple[int, Any] | None = None) -> "FakeHost":
        """`gate`: answer only once it is set (at most 10 s later)."""
        self.routes[(method, path)] = (status, body, delay, headers or {})
        if keyless is not None:
            self.keyless[(method, path)] = keyless
        if gate is not None:
            self.gates[(method, path)] = gate
        return self

    def reset(self) -> None:
        self.routes.clear()
        self.keyless.clear()
        for gate in self.gates.values():
            gate.set()
        self.gates.clear()
        self.hits.clear()
        self.answered.clear()

    def hits_on(self, path: str) -> list[dict]:
        return [h for h in self.hits if h["path"].split("?", 1)[0] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Topic:
    """A fresh topic on the emulator with a pull subscription that reads exactly what was published."""

    def __init__(self) -> None:
        from google.cloud import pubsub_v1

        self.name = f"byok-errors-{uuid.uuid4().hex[:8]}"
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.path = self.publisher.topic_path(PROJECT, self.name)
        self.subscription = self.subscriber.subscription_path(PROJECT, self.name + "-pull")
        self.publisher.create_topic(name=self.path)
        self.subscriber.create_subscription(name=self.subscription, topic=self.path)

    def pull_messages(self, expected: int, settle: float = 1.0, deadline: float = 30.0) -> list[Any]:
        """The messages, acknowledged: waits for `expected`, then checks that no more arrive."""
        out: list[Any] = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            waiting = len(out) < expected
            response = self.subscriber.pull(subscription=self.subscription, max_messages=1000,
                                            timeout=5 if waiting else settle)
            if response.received_messages:
                self.subscriber.acknowledge(subscription=self.subscription,
                                            ack_ids=[m.ack_id for m in response.received_messages])
                out.extend(m.message for m in response.received_messages)
            elif not waiting:
                break
        return out

    def close(self) -> None:
        self.subscriber.close()


class Pipeline(Topic):
    """`deliver()` hands every message, as Eventarc would, to the notifier in this process and
    returns the outcomes."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []
        self.raw: list[bytes] = []

    def deliver(self, expected: int) -> list[str]:
        from functions import notify

        outcomes = []
        for message in self.pull_messages(expected):
            self.raw.append(message.data)
            self.events.append(json.loads(message.data))
            validate(self.events[-1])
            data = {"message": {"data": base64.b64encode(message.data).decode(),
                                "attributes": dict(message.attributes), "messageId": message.message_id,
                                "publishTime": message.publish_time.isoformat().replace("+00:00", "Z")},
                    "subscription": self.subscription}
            outcomes.append(notify.handle_pubsub_event(message.message_id, data))
        return outcomes

    def close(self) -> None:
        self.subscriber.delete_subscription(subscription=self.subscription)
        self.publisher.delete_topic(topic=self.path)
        self.subscriber.close()
        self.publisher.stop()
