"""One writer per home: commands that change state hold an exclusive lock on ``<home>/.cdp.lock``.

A run, a backfill, ``cdp forget``, ``cdp identity train`` (and each Airflow task, which calls the same
pipeline step) take the lock; a second one refuses at once with who holds it and since when ("a run is
in progress since ..."), or waits for it when asked to. Without it, ``cdp forget`` during a run was
undone by that run (ingest had read the tombstones before forget wrote them) and two runs raced on
one warehouse with DuckDB's raw lock error.

The lock is ``fcntl.flock`` on an open file: the kernel releases it when the process ends, however
it ends (kill -9 included), so a crashed command never leaves a stale lock behind. It is re-entrant
within a process (``cdp run`` holds it and its steps take it again). Readers (``cdp query``,
``summary``, ``explain``, ``segments``) take no lock: they read the published warehouse, which a
night replaces atomically (:mod:`cdp.publish`).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".cdp.lock"
_held: dict[str, int] = {}  # lock path -> depth, in this process


class HomeBusy(RuntimeError):
    """Another command holds the home's lock; the message says which and since when."""


def lock_path(home: Path) -> Path:
    return home / LOCK_FILE


@contextmanager
def home_lock(home: Path, command: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the home's write lock for ``command`` (waiting up to ``wait_seconds`` for it)."""
    path = lock_path(home)
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HomeBusy(_busy_message(path, command)) from None
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        holder = {
            "command": command,
            "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        _held[key] = 1
        try:
            yield
        finally:
            _held.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder(home: Path) -> dict | None:
    """Who holds the lock now (command, pid, since), or None when nobody does."""
    path = lock_path(home)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(path) or {"command": "unknown", "pid": None, "since": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


def _busy_message(path: Path, command: str) -> str:
    info = _read_holder(path) or {}
    what = info.get("command") or "another command"
    since = info.get("since") or "an unknown time"
    pid = info.get("pid")
    return (
        f"cannot start {command}: {what} is in progress since {since}"
        f"{f' (pid {pid})' if pid else ''} on this home ({path.parent}); wait for it to finish"
    )
