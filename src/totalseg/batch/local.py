"""The local backend: one process with a few case threads, or N worker processes.

With ``workers > 1`` each worker process (spawned, so CUDA and torch start clean) runs its own
:class:`~totalseg.batch.runner.CasePool` and keeps its models loaded. Each worker has its own pipe,
so a worker that dies (killed, out of memory) cannot jam the others. Which of the cases it held
killed it is not known, so each of them is retried alone on a worker (no other case is sent to that
worker meanwhile): the innocent ones finish there, and a case that kills its worker
:data:`MAX_ATTEMPTS` times, the last time alone, is an error. Results a worker sent before it died
are kept.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from totalseg.batch.cases import Case
from totalseg.batch.runner import WORKER_DIED, CasePool, CaseResult, CaseRunner, SegmentJob

MAX_ATTEMPTS = 3
POLL_S = 0.2
ResultCallback = Callable[[CaseResult], None]


def run_in_process(job: SegmentJob, cases: Sequence[Case], on_result: ResultCallback, *, threads: int = 2) -> None:
    """Run ``cases`` in this process, ``threads`` at a time (one of them in inference)."""
    pool = CasePool(CaseRunner(job), threads=threads)
    for case in cases:
        pool.put(case)
    pool.close()
    for _ in cases:
        while True:
            try:
                result = pool.get(timeout=POLL_S)  # a short wait keeps Ctrl-C responsive
                break
            except queue.Empty:
                continue
        on_result(result)


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    in_flight: dict[str, Case] = field(default_factory=dict)
    alone: bool = False  # running one suspect case, and nothing else until it ends


@dataclass
class _Backlog:
    """Cases waiting for a worker: fresh ones, and suspects (on a worker when it died) that run alone."""

    fresh: list[Case]
    suspects: list[Case] = field(default_factory=list)
    deaths: dict[str, int] = field(default_factory=dict)  # worker deaths while a case was in flight

    def fill(self, worker: _Worker, room: int) -> None:
        """Send ``worker`` what it may take: a suspect when it is idle, else fresh cases up to ``room``.

        While suspects wait, busy workers get nothing new, so the first to become idle takes one.
        """
        if worker.alone:
            return
        if self.suspects:
            if not worker.in_flight:
                worker.alone = True
                _send(worker, self.suspects.pop(0))
            return
        while self.fresh and len(worker.in_flight) < room:
            _send(worker, self.fresh.pop())


def _send(worker: _Worker, case: Case) -> None:
    worker.in_flight[case.name] = case
    worker.conn.send(case)


def run_in_workers(job: SegmentJob, cases: Sequence[Case], on_result: ResultCallback, *, workers: int,
                   threads: int = 2) -> None:
    """Run ``cases`` in ``workers`` processes, each with ``threads`` case threads."""
    ctx = mp.get_context("spawn")
    backlog = _Backlog(list(reversed(cases)))
    pool = [_start(ctx, job, threads) for _ in range(min(workers, len(cases)))]
    remaining = len(cases)
    try:
        while remaining:
            for worker in pool:
                backlog.fill(worker, threads + 1)  # keep each worker one case ahead of its threads
            for conn in wait([w.conn for w in pool], timeout=POLL_S):
                worker = next(w for w in pool if w.conn is conn)
                try:
                    result: CaseResult = conn.recv()
                except (EOFError, OSError):
                    continue  # the process died; handled below
                remaining -= _finish(worker, result, on_result)
            for i, worker in enumerate(pool):
                if worker.process.is_alive():
                    continue
                remaining -= _drain(worker, on_result)
                remaining -= _requeue(worker, backlog, on_result)
                worker.conn.close()
                pool[i] = _start(ctx, job, threads)
    finally:
        for worker in pool:
            _stop(worker)


def _finish(worker: _Worker, result: CaseResult, on_result: ResultCallback) -> int:
    """Hand on the result of a case the worker held; returns 1, or 0 for a case it did not hold."""
    if worker.in_flight.pop(result.case, None) is None:
        return 0
    if not worker.in_flight:
        worker.alone = False
    on_result(result)
    return 1


def _drain(worker: _Worker, on_result: ResultCallback) -> int:
    """Hand on the results a dead worker sent before it died; returns how many."""
    done = 0
    try:
        while worker.conn.poll():
            done += _finish(worker, worker.conn.recv(), on_result)
    except (EOFError, OSError):
        pass
    return done


def _requeue(worker: _Worker, backlog: _Backlog, on_result: ResultCallback) -> int:
    """Queue a dead worker's cases to run alone; returns how many became errors instead.

    A case is an error after :data:`MAX_ATTEMPTS` deaths of workers running it, the last one while it
    ran alone: cases that merely shared a worker with the one that killed it are retried.
    """
    failed = 0
    alone = len(worker.in_flight) == 1
    for case in worker.in_flight.values():
        deaths = backlog.deaths[case.name] = backlog.deaths.get(case.name, 0) + 1
        if not alone or deaths < MAX_ATTEMPTS:
            backlog.suspects.append(case)
            continue
        failed += 1
        on_result(CaseResult(case=case.name, input=str(case.input), status="error", error_type=WORKER_DIED,
                             error=f"the worker process died ({_exit_reason(worker.process.exitcode)}) {deaths} "
                                   "times on this case; it may need more memory than a worker has",
                             finished_at=time.time()))
    worker.in_flight.clear()
    return failed


def _exit_reason(code: int | None) -> str:
    """``killed by SIGKILL`` for a signal, else ``exit code N``."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _start(ctx, job: SegmentJob, threads: int) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_worker_main, args=(job, child, threads), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _stop(worker: _Worker) -> None:
    try:
        worker.conn.send(None)
    except OSError:
        pass
    worker.process.join(timeout=1)
    if worker.process.is_alive():
        worker.process.terminate()
        worker.process.join(timeout=5)
    worker.conn.close()


def _worker_main(job: SegmentJob, conn: Connection, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    pool = CasePool(CaseRunner(job), threads=threads)
    send_lock = threading.Lock()

    def forward() -> None:
        while True:
            result = pool.get()
            with send_lock:
                conn.send(result)

    threading.Thread(target=forward, daemon=True).start()
    while True:
        try:
            case = conn.recv()
        except (EOFError, OSError):
            return
        if case is None:
            return
        pool.put(case)
