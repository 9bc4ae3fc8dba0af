"""A test run leaves nothing behind: the end-of-session check finds what a test forgot, and fails the run.

The checker (devstack/leftovers.py, called from tests/conftest.py's pytest_sessionfinish) is tested
here on real processes, and once end to end: a pytest run of a test that forgets a real redis-server
must fail, name it, and leave no redis-server running.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devstack import leftovers, services

ROOT = Path(__file__).resolve().parent.parent


def test_a_forgotten_service_is_found_by_its_process_group(tmp_path):
    svc = services._spawn("sleeper", ["sleep", "300"], 0, tmp_path)
    try:
        found = leftovers.find(groups=[svc.proc.pid])
        assert [item.pid for item in found] == [svc.proc.pid]
        svc.stop()
        assert leftovers.find(groups=[svc.proc.pid]) == []  # stopped (and reaped): nothing left
    finally:
        svc.stop()


def test_stopping_a_service_ends_the_children_its_launcher_left(tmp_path):
    """A launcher that exits before its child (as the emulators' wrappers can) leaves the child in its group:
    stop() ends it too and returns only once the group is empty, so the end-of-run check never races it."""
    svc = services._spawn("launcher", ["sh", "-c", "sleep 304 & exit 0"], 0, tmp_path)
    try:
        svc.proc.wait(10)
        child = [item for item in leftovers.find(groups=[svc.proc.pid]) if "sleep 304" in item.cmdline]
        assert child, "the launcher's child should still be running in its group"
        svc.stop()
        assert leftovers.find(groups=[svc.proc.pid]) == []
    finally:
        svc.stop()


def test_a_process_started_another_way_is_found_by_its_directory(tmp_path):
    inside = tmp_path / "work"
    inside.mkdir()
    outside = Path(tempfile.mkdtemp(prefix="elsewhere-", dir="/tmp" if Path("/tmp").is_dir() else None))
    by_cwd = subprocess.Popen(["sleep", "301"], cwd=inside, start_new_session=True)
    by_arg = subprocess.Popen(["sh", "-c", "sleep 302", str(inside)], cwd=outside, start_new_session=True)
    unrelated = subprocess.Popen(["sleep", "303"], cwd=outside, start_new_session=True)
    try:
        found = {item.pid: item.why for item in leftovers.find(roots=[tmp_path])}
        assert by_cwd.pid in found and "cwd" in found[by_cwd.pid]
        assert by_arg.pid in found and "argument" in found[by_arg.pid]
        assert unrelated.pid not in found
        leftovers.kill([item for item in leftovers.find(roots=[tmp_path]) if item.pid == by_cwd.pid])
        by_cwd.wait(5)
        assert by_cwd.returncode is not None
    finally:
        for proc in (by_cwd, by_arg, unrelated):
            proc.kill()
            proc.wait(5)
        outside.rmdir()


def test_a_run_that_forgets_a_redis_server_fails_and_ends_it(tmp_path):
    (tmp_path / "test_forgets.py").write_text(
        "from devstack import services\n\n"
        "def test_starts_redis_and_forgets_it():\n"
        "    svc = services.start_redis()\n"
        f"    open({str(tmp_path / 'port')!r}, 'w').write(str(svc.port))\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-p", "no:cacheprovider",
                             "--rootdir", str(tmp_path), str(tmp_path / "test_forgets.py")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 passed" in out and "still running at its end" in out and "redis-server" in out
    # ...and it was ended: nothing answers on its port any more
    port = int((tmp_path / "port").read_text())
    deadline = time.monotonic() + 5
    while _answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _answers(port)


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((services.HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable():
    """An outgoing connection or another process's bind(0) takes ports from the kernel's ephemeral range, which once
    took the Firestore emulator's port between its choice and its bind: the ports the stack hands out lie below it."""
    import socket

    low, _ = services._ephemeral_range()
    ports = [services.free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports) and all(10000 <= p < low for p in ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((services.HOST, ports[-1]))
