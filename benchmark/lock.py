"""One writer per results folder.

Two ``serbench run`` (or ``report``) on one results folder would race on its MLflow store
(both creating its schema, one deleting the other's live fold run as a leftover) and log
the same folds and final models twice. The folder's lock is an OS lock (``flock``) on
``<results_dir>/.lock``: the kernel releases it when its holder dies, however it dies, so a
lock left by a killed run is taken over by the next one without a word of advice needed.
The file names its holder (pid, host, command, since when) for the message a second run
prints. Reentrant within a process: a run inside a command holding the lock goes on.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LOCK = ".lock"
_held: dict[Path, int] = {}  # folder -> depth, in this process


class Busy(RuntimeError):
    """The results folder is held by another process."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def results_lock(results_dir: str | Path, command: str) -> Iterator[None]:
    """Hold ``results_dir``'s lock for the block; raise :class:`Busy` naming the holder if
    another process holds it."""
    folder = Path(results_dir).resolve()
    if folder in _held:
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            h = _holder(path)
            who = (f"pid {h.get('pid', '?')} on {h.get('host', '?')} ({h.get('command', '?')}, "
                   f"since {h.get('since', '?')})") if h else "another process"
            raise Busy(f"{folder} is in use by {who}: wait for it to end, or write to "
                       "another folder (--results-dir)") from None
        before = _holder(path)
        if before.get("pid") and before.get("host") == socket.gethostname() \
                and not _alive(int(before["pid"])):
            print(f"serbench: took over the lock of {folder} left by pid {before['pid']} "
                  f"({before.get('command', '?')}), which is no longer running",
                  file=sys.stderr)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "command": command, "since": datetime.now(UTC).isoformat(
                                      timespec="seconds")}).encode(), 0)
        _held[folder] = 1
        try:
            yield
        finally:
            del _held[folder]
            os.ftruncate(fd, 0)  # released cleanly: nothing to take over
    finally:
        os.close(fd)  # closing releases the flock
