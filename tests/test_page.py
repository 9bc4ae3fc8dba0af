"""The FCM server's page, in a real headless Chromium: what users get, updated live.

The browser is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON
messages separated by NUL on fds 3 and 4), so no extra package is needed. The push is sent by the
real notifier (functions/notify.py) through firebase-admin to the server; Redis and the Firestore
emulator are the session's real ones. The screenshot check counts the push card's accent colour
(#ff5a1f, used nowhere else on the page) in PNG screenshots taken before and after the push.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
import zlib

import pytest

from devstack.fcm_server import FcmServer, page_state
from tests.conftest import PROJECT
from tests.helpers import event, pubsub_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ACCENT = (0xFF, 0x5A, 0x1F)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1100,900"]


# -- a minimal DevTools-protocol client over a pipe ------------------------------------------------

class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 (commands in) and 4 (answers out)."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="byok-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: the pipe ends become fds 3 and 4
            high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.log = os.path.join(self.profile, "chromium.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                          "--remote-debugging-pipe", "about:blank"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         pass_fds=(3, 4), preexec_fn=fds, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._answers: dict[int, dict] = {}
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.session = None

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                break
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._answers[msg["id"]] = msg
                        self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        try:
            os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise AssertionError(f"chromium exited ({self.proc.poll()}) before {method}: {self.tail()}") from None
        with self._cond:
            ok = self._cond.wait_for(lambda: self._next in self._answers or self.proc.poll() is not None, timeout)
            answer = self._answers.pop(self._next, None)
        assert ok and answer is not None, f"no answer to {method}"
        assert "error" not in answer, answer
        return answer["result"]

    def tail(self) -> str:
        try:
            with open(self.log, "rb") as log:
                return log.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def ready(self, timeout: float = 60) -> bool:
        """True once the browser answers over the pipe (a cold first start on a loaded machine is slow)."""
        try:
            self.call("Browser.getVersion", timeout=timeout)
            return True
        except AssertionError:
            return False

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_js(self, expression: str, timeout: float = 20):
        deadline = time.monotonic() + timeout
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while time.monotonic() < deadline:
            value = self.js(guarded)  # null while the page is still loading
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"never true in the page: {expression}\n{self.js('document.body.innerText')}")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        os.close(self._to_child)
        shutil.rmtree(self.profile, ignore_errors=True)


# -- PNG: count the pixels of one colour -----------------------------------------------------------

def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def count_colour(png: bytes, rgb: tuple[int, int, int]) -> int:
    width, _, rows = png_pixels(png)
    bpp = len(rows[0]) // width
    want = bytes(rgb)
    return sum(1 for row in rows for x in range(0, len(row), bpp) if row[x:x + 3] == want)


def distinct_colours(png: bytes) -> int:
    width, _, rows = png_pixels(png)
    bpp = len(rows[0]) // width
    return len({row[x:x + 3] for row in rows[::7] for x in range(0, len(row), bpp * 7)})


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture
def page_server(redis_server, firestore_emulator):
    server = FcmServer(redis_url=f"redis://{redis_server.address}/0", firestore=firestore_emulator.address,
                       project=PROJECT).start()
    yield server
    server.stop()


@pytest.fixture
def notifier_env(env, page_server, monkeypatch):
    """The in-process notifier, sending to the page's server."""
    from functions import clients, config

    monkeypatch.setenv("FCM_ENDPOINT", page_server.url)
    config.reset()
    clients.reset()
    yield
    config.reset()
    clients.reset()


@pytest.fixture
def browser():
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium; test.sh does it as root)")
    for attempt in range(3):   # chromium sometimes dies at a cold start on a busy machine: start it again
        b = Browser()
        if b.ready():
            break
        problem = b.tail()
        b.close()
    else:
        raise AssertionError(f"chromium did not start in 3 attempts: {problem}")
    yield b
    b.close()


def seed(db, uid: str) -> dict[str, str]:
    tokens = {"phone": f"ok-phone-{uid}", "tablet": f"dead-tablet-{uid}"}
    db.document(f"users/{uid}").set({"name": "Page Test"})
    for device, token in tokens.items():
        db.document(f"users/{uid}/fcm_tokens/{device}").set({"token": token})
    return tokens


def firestore_client(firestore_emulator):
    """A client on the emulator (the `env` fixture has set FIRESTORE_EMULATOR_HOST)."""
    from google.cloud import firestore

    assert os.environ["FIRESTORE_EMULATOR_HOST"] == firestore_emulator.address
    return firestore.Client(project=PROJECT)


# -- the tests --------------------------------------------------------------------------------------

def test_the_delivered_push_appears_live_as_a_phone_shows_it(browser, page_server, notifier_env, uid,
                                                              firestore_emulator, redis_db):
    from functions import notify

    db = firestore_client(firestore_emulator)
    tokens = seed(db, uid)
    phone = f'[data-uid="{uid}"][data-device="phone"]'
    browser.open(page_server.url + "/")
    # The devices appear (from Firestore) with empty inboxes; nothing is sent yet.
    browser.wait_js(f"!!document.querySelector('{phone}') && "
                    f"document.querySelector('{phone}').innerText.includes('No notifications')")
    before = browser.screenshot()
    assert count_colour(before, ACCENT) == 0

    # The real notifier sends through firebase-admin; the page is not reloaded.
    assert notify.handle_pubsub_event("page-ev-1", pubsub_data(event(uid))) == "sent"
    card = f"{phone} .push"
    browser.wait_js(f"!!document.querySelector('{card}')")
    shown = browser.js(f"""(() => {{ const c = document.querySelector('{card}');
        const a = c.querySelector('a');
        return {{title: c.querySelector('.title').innerText, body: c.querySelector('.body').innerText,
                 head: c.querySelector('.head').innerText, chips: c.querySelector('.foot').innerText,
                 time: c.querySelector('.time').innerText, href: a && a.href, link: a && a.innerText}}; }})()""")
    assert shown["title"] == "Your OpenAI key is out of credit"
    assert shown["body"].startswith("Your OpenAI key is out of credit. Add credit")
    assert "OpenAI" in shown["head"] and "openai" in shown["chips"] and "quota_exhausted" in shown["chips"]
    assert shown["href"] == "https://platform.openai.com/settings/organization/billing/overview"
    assert shown["link"].startswith("Add credit")
    assert len(shown["time"]) == 8 and shown["time"].count(":") == 2  # HH:MM:SS
    # one push on the phone, none on the dead tablet, which says why
    tablet = f'[data-uid="{uid}"][data-device="tablet"]'
    assert browser.js(f"document.querySelectorAll('{phone} .push').length") == 1
    assert browser.js(f"document.querySelectorAll('{tablet} .push').length") == 0
    assert "UNREGISTERED" in browser.js(f"document.querySelector('{tablet}').innerText")
    # the dedup state and the dead token, from Redis and Firestore
    browser.wait_js(f"(document.querySelector('#dedup tr[data-uid=\"{uid}\"]') || {{}}).innerText"
                    f"?.includes('sent')")  # a moment ago it may still have shown the delivery lease
    row = browser.js(f"document.querySelector('#dedup tr[data-uid=\"{uid}\"]').innerText")
    assert "openai" in row and "quota_exhausted" in row and "sent" in row and "24 h" in row
    path = f"users/{uid}/fcm_tokens/tablet"
    browser.wait_js(f"(document.querySelector('#tokens tr[data-path=\"{path}\"]') || {{}}).innerText"
                    f"?.match(/marked \\(UNREGISTERED\\)|deleted/)")
    page_text = browser.js("document.body.innerText")
    assert tokens["phone"] not in page_text and tokens["tablet"] not in page_text  # hints only

    after = browser.screenshot()
    assert distinct_colours(after) > 20  # a rendered page, not a blank image
    assert count_colour(after, ACCENT) > 500  # the card's accent strip and icon are on screen
    db.close()


def test_duplicates_add_no_card_and_the_dedup_row_stays_one(browser, page_server, notifier_env, uid,
                                                           firestore_emulator, redis_db):
    from functions import notify

    db = firestore_client(firestore_emulator)
    seed(db, uid)
    outcomes = [notify.handle_pubsub_event(f"page-dup-{i}", pubsub_data(event(uid))) for i in range(4)]
    assert outcomes == ["sent", "suppressed", "suppressed", "suppressed"]
    browser.open(page_server.url + "/")
    phone = f'[data-uid="{uid}"][data-device="phone"]'
    browser.wait_js(f"document.querySelectorAll('{phone} .push').length === 1")
    assert browser.js(f"document.querySelectorAll('#dedup tr[data-uid=\"{uid}\"]').length") == 1
    db.close()


def test_an_email_for_a_user_without_devices_appears_as_it_would_be_sent(browser, page_server, notifier_env, uid,
                                                                        firestore_emulator, redis_db,
                                                                        monkeypatch):
    from functions import clients, config, notify

    monkeypatch.setenv("EMAIL_MODE", "fallback")
    config.reset()
    clients.reset()
    db = firestore_client(firestore_emulator)
    db.document(f"users/{uid}").set({"email": f"{uid}@example.com", "language": "es"})
    browser.open(page_server.url + "/")
    assert notify.handle_pubsub_event("page-mail-1", pubsub_data(event(uid))) == "emailed"
    card = browser.wait_js(f"Array.from(document.querySelectorAll('#mails .mail'))"
                           f".map(m => m.innerText).find(t => t.includes('{uid}@example.com'))")
    assert "OpenAI" in card and "Hola" in card
    assert "https://platform.openai.com/settings/organization/billing/overview" in card
    db.close()


def test_the_page_says_what_it_is_not_connected_to(browser, fcm_server):
    browser.open(fcm_server.url + "/")
    text = browser.wait_js("document.getElementById('dedup').innerText.includes('Not connected') && "
                           "document.body.innerText")
    assert "Not connected to Redis" in text and "Not connected to Firestore" in text


def test_state_groups_pushes_by_device_and_never_exposes_a_token(fcm_server):
    """The JSON behind the page, without a browser; the control endpoints keep working beside it."""
    secret = "ok-" + "x" * 40
    body = json.dumps({"message": {"token": secret, "notification": {"title": "T", "body": "B"},
                                   "data": {"provider": "openai", "reason": "invalid_key",
                                            "provider_name": "OpenAI", "action_url": "https://example.test/k"}}})
    for _ in range(2):
        req = urllib.request.Request(f"{fcm_server.url}/v1/projects/p/messages:send", data=body.encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()
    with urllib.request.urlopen(f"{fcm_server.url}/_state", timeout=5) as resp:
        raw = resp.read().decode()
    assert secret not in raw
    state = json.loads(raw)
    (device,) = [d for d in state["devices"] if d["token_hint"].startswith("ok-xxx")]
    assert device["delivered"] == 2 and device["pushes"][0]["title"] == "T"
    assert device["pushes"][0]["action_url"] == "https://example.test/k"
    assert state["sources"] == {"redis": False, "firestore": False}
    assert page_state(fcm_server.state, None)["dedup"] == []
    with urllib.request.urlopen(f"{fcm_server.url}/", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/html")
        assert b"What users get" in resp.read()
    with urllib.request.urlopen(f"{fcm_server.url}/_inbox", timeout=5) as resp:
        assert len(json.loads(resp.read())["messages"]) >= 2
