"""Find (and end) processes a run left behind: a test run must end every process it starts.

Two nets, because a process can escape either one alone:
- process groups: every service devstack/services.py started runs in its own group (its pid is the
  group id); any live member of such a group after the run is a leftover, even a java child whose
  launcher already exited;
- the run's temporary directories: a process started some other way (a subprocess of a subprocess,
  ./dev.sh under test, a restart from a timer thread) still has its working directory, an argument
  or an open file (its log) under the run's temporary root, which the test session points TMPDIR at.

Linux only (/proc); elsewhere both scans find nothing.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

PROC = Path("/proc")


@dataclass(frozen=True)
class Leftover:
    pid: int
    pgid: int
    why: str
    cmdline: str

    def __str__(self) -> str:
        return f"pid {self.pid} (group {self.pgid}, {self.why}): {self.cmdline[:200]}"


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a live process, None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _points_into(pid: int, roots: tuple[str, ...]) -> str | None:
    """What of this process lies under one of `roots`: its cwd, an argument or an open file."""
    base = PROC / str(pid)
    try:
        if os.readlink(base / "cwd").startswith(roots):
            return "cwd in the run's temporary directory"
    except OSError:
        pass
    if any(root in _cmdline(pid) for root in roots):
        return "argument in the run's temporary directory"
    try:
        for fd in os.listdir(base / "fd"):
            try:
                if os.readlink(base / "fd" / fd).startswith(roots):
                    return "open file in the run's temporary directory"
            except OSError:
                continue
    except OSError:
        pass
    return None


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return []


def find(groups: Iterable[int] = (), roots: Iterable[str | Path] = (), exclude: Iterable[int] = ()) -> list[Leftover]:
    """Live (not zombie) processes in one of `groups`, or pointing into one of `roots`."""
    groups = set(groups)
    roots_t = tuple(str(Path(r).resolve()) for r in roots)
    skip = set(exclude) | {os.getpid()}
    found = []
    for pid in _pids():
        if pid in skip:
            continue
        stat = _stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        why = f"in the process group of a started service" if stat[2] in groups else None
        if why is None and roots_t:
            why = _points_into(pid, roots_t)
        if why:
            found.append(Leftover(pid, stat[2], why, _cmdline(pid)))
    return found


def kill(leftovers: Iterable[Leftover], grace: float = 3.0) -> None:
    """SIGTERM each leftover (and its group when it leads one), then SIGKILL what is still there."""
    leftovers = list(leftovers)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for item in leftovers:
            try:
                if item.pgid == item.pid:
                    os.killpg(item.pgid, sig)
                else:
                    os.kill(item.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(i.pid) for i in leftovers):
            time.sleep(0.05)
        if not any(_alive(i.pid) for i in leftovers):
            return


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")
