"""Run one function per subject in worker processes, with a progress bar, yielding results as they finish.

Processes rather than threads: mask statistics mix C calls (which release the GIL) with numpy
reductions and header parsing (which do not). Workers are forked where the platform allows (they
use no threads or OpenMP, and fork works from scripts and notebooks without a ``__main__`` guard),
else spawned; with ``workers=1`` everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

from tqdm import tqdm

from totalseg.cpus import usable_cpus

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The CPUs this process may use (at most 8: beyond that the disk is usually the limit)."""
    return max(1, min(usable_cpus(), 8))


def run_parallel(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None, progress: bool = True, desc: str = ""
) -> Iterator[R]:
    """``fn(item)`` for every item, in worker processes; results come in completion order.

    ``fn`` must be a module-level function and its items and results picklable.

    Examples:
        >>> sorted(run_parallel(abs, [-2, 1], workers=1, progress=False))
        [1, 2]
    """
    items = list(items)
    workers = default_workers() if workers is None else max(1, int(workers))
    bar = tqdm(total=len(items), desc=desc, unit="subject", disable=not progress)
    try:
        if workers == 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
                bar.update()
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(min(workers, len(items)), mp_context=context) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                for future in as_completed(futures):
                    yield future.result()
                    bar.update()
            finally:
                for future in futures:
                    future.cancel()
    finally:
        bar.close()
