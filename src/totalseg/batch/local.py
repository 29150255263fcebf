"""The local backend: one process with a few case threads, or N worker processes.

With ``workers > 1`` each worker process (spawned, so CUDA and torch start clean) runs its own
:class:`~totalseg.batch.runner.CasePool` and keeps its models loaded. Each worker has its own pipe,
so a worker that dies (killed, out of memory) cannot jam the others: its unfinished cases go to
the other workers, and after :data:`MAX_ATTEMPTS` deaths on one case that case is an error.
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
from totalseg.batch.runner import CasePool, CaseResult, CaseRunner, SegmentJob

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


def run_in_workers(job: SegmentJob, cases: Sequence[Case], on_result: ResultCallback, *, workers: int,
                   threads: int = 2) -> None:
    """Run ``cases`` in ``workers`` processes, each with ``threads`` case threads."""
    ctx = mp.get_context("spawn")
    todo = list(reversed(cases))
    attempts: dict[str, int] = {}
    pool = [_start(ctx, job, threads) for _ in range(min(workers, len(cases)))]
    remaining = len(cases)
    try:
        while remaining:
            for worker in pool:  # keep each worker one case ahead of its threads
                while todo and len(worker.in_flight) < threads + 1:
                    case = todo.pop()
                    attempts[case.name] = attempts.get(case.name, 0) + 1
                    worker.in_flight[case.name] = case
                    worker.conn.send(case)
            for conn in wait([w.conn for w in pool], timeout=POLL_S):
                worker = next(w for w in pool if w.conn is conn)
                try:
                    result: CaseResult = conn.recv()
                except (EOFError, OSError):
                    continue  # the process died; handled below
                worker.in_flight.pop(result.case, None)
                remaining -= 1
                on_result(result)
            for i, worker in enumerate(pool):
                if worker.process.is_alive():
                    continue
                remaining -= _requeue(worker, todo, attempts, on_result)
                worker.conn.close()
                pool[i] = _start(ctx, job, threads)
    finally:
        for worker in pool:
            _stop(worker)


def _requeue(worker: _Worker, todo: list[Case], attempts: dict[str, int], on_result: ResultCallback) -> int:
    """Give a dead worker's cases to the others; return how many became errors instead."""
    failed = 0
    code = worker.process.exitcode
    for case in worker.in_flight.values():
        if attempts[case.name] < MAX_ATTEMPTS:
            todo.append(case)
            continue
        failed += 1
        on_result(CaseResult(case=case.name, input=str(case.input), status="error", error_type="WorkerDied",
                             error=f"the worker process died (exit code {code}) {MAX_ATTEMPTS} times on this case; "
                                   "it may need more memory than a worker has",
                             finished_at=time.time()))
    worker.in_flight.clear()
    return failed


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
