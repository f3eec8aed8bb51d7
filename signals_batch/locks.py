"""A lock file shared between processes: an flock, which the kernel releases when its holder
exits, however it exits (SIGKILL included)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(
    path: Path, timeout: float, refused: Callable[[str | None], Exception]
) -> Iterator[None]:
    """Hold an exclusive flock on `path`, waiting up to `timeout` seconds for it.

    When the wait runs out, raise `refused(holder_pid)`; the holder writes its pid into the
    file, so the message can say who holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(handle, 32, 0).decode(errors="replace").strip()
                    raise refused(holder or None) from None
                time.sleep(0.05)
        os.ftruncate(handle, 0)
        os.pwrite(handle, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(handle)  # releases the flock
