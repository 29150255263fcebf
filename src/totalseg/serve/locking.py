"""Advisory file locks (``flock``) shared by the processes that use one job store: ``totalseg serve``,
``totalseg dicom-node`` and the web app may run side by side on one data folder.

A lock belongs to an open file, so it is released when the holder closes it or its process ends,
however it ends: a killed server never leaves a job store locked. Where ``fcntl`` is missing
(Windows) the locks only order threads of one process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per data folder
    fcntl = None  # type: ignore[assignment]


@contextmanager
def exclusive(path: Path, thread_lock: threading.Lock) -> Iterator[None]:
    """Hold ``thread_lock`` and an exclusive lock on the file ``path`` (created if missing).

    Examples:
        >>> with exclusive(tmp_path / ".jobs.lock", threading.Lock()):  # doctest: +SKIP
        ...     pass  # no other thread or process holds the store here
    """
    with thread_lock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def try_hold(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on ``path``, or ``None`` when another holder has it.

    The caller keeps the descriptor while it works and closes it (:func:`release`) to let go.

    Examples:
        >>> fd = try_hold(tmp_path / "run.lock")  # doctest: +SKIP
        >>> try_hold(tmp_path / "run.lock") is None  # doctest: +SKIP
        True
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # the folder went away (a deleted job)
        return None
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd: int | None) -> None:
    """Close a descriptor from :func:`try_hold` (``None``: nothing to do)."""
    if fd is not None:
        os.close(fd)
