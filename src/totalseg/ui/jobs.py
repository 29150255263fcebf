"""Background runs: segmentation happens in worker threads so the page never blocks.

One :class:`JobRunner` per server process (the app keeps it with ``st.cache_resource``); every
browser session submits its runs there and polls its :class:`Job` for progress. Models stay loaded
between runs because the engine caches them once per process.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from totalseg.errors import TotalsegError
from totalseg.ui import INSTALL_HINT

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(eq=False)
class Job:
    """One submitted run: its state, progress and, at the end, its result or error message.

    Attributes:
        number: submission order within the process.
        label: what the run does, shown in the page.
        total_ticks: expected number of progress ticks (an upper bound; 0 when unknown).
    """

    number: int
    label: str
    total_ticks: int = 0
    state: str = QUEUED
    stage: str = ""
    ticks: int = 0
    result: Any = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    future: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tick(self) -> None:
        """Count one unit of work (called from the worker thread)."""
        with self._lock:
            self.ticks += 1

    def set_stage(self, stage: str) -> None:
        """Name the step the run is in (shown beside the progress bar)."""
        self.stage = stage

    @property
    def fraction(self) -> float:
        """Progress in [0, 1]: 1 only once finished, at most 0.99 while running."""
        if self.state in (DONE, FAILED):
            return 1.0
        if self.state == QUEUED or self.total_ticks <= 0:
            return 0.0
        return min(self.ticks / self.total_ticks, 0.99)

    @property
    def seconds(self) -> float:
        """Run time so far (or in total once finished)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.perf_counter()) - self.started


class JobRunner:
    """A small thread pool running :class:`Job` s; user errors become the job's message.

    Examples:
        >>> runner = JobRunner(workers=1)
        >>> job = runner.submit(lambda job: 6 * 7, label="answer")
        >>> runner.wait(job).result
        42
    """

    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="totalseg-ui")
        self._numbers = itertools.count(1)
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def submit(self, work: Callable[[Job], Any], *, label: str, total_ticks: int = 0) -> Job:
        """Queue ``work(job)``; it may call ``job.tick()`` to report progress."""
        job = Job(next(self._numbers), label, total_ticks)
        with self._lock:
            self._jobs = [j for j in self._jobs if j.state in (QUEUED, RUNNING)] + [job]
        job.future = self._pool.submit(self._run, job, work)
        return job

    def ahead_of(self, job: Job) -> int:
        """How many runs start before ``job`` (0 once it runs)."""
        if job.state != QUEUED:
            return 0
        with self._lock:
            return sum(1 for j in self._jobs if j.number < job.number and j.state in (QUEUED, RUNNING))

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Block until ``job`` finished (for scripts and tests; the app polls instead)."""
        job.future.result(timeout=timeout)
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> None:
        job.started, job.state = time.perf_counter(), RUNNING
        try:
            job.result = work(job)
            job.state = DONE
        except TotalsegError as exc:
            job.error, job.state = str(exc), FAILED
        except ImportError as exc:
            job.error, job.state = f"{exc}; {INSTALL_HINT}", FAILED
        except MemoryError:
            job.error, job.state = "out of memory; try the fast or fastest mode, or a region subset", FAILED
        except Exception as exc:  # the page must keep running; the log keeps the traceback
            log.exception("run %d failed", job.number)
            job.error, job.state = f"unexpected error ({type(exc).__name__}: {exc}); please report it", FAILED
        finally:
            job.finished = time.perf_counter()
