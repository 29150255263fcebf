"""The Ray backend: the same cases run by Ray actors on a cluster.

Each actor is one worker with ``cpus_per_worker``/``gpus_per_worker`` Ray resources; it holds a
:class:`~totalseg.batch.runner.CaseRunner` (models loaded once) and runs a few cases at once
(``max_concurrency``) so reading and writing overlap inference. Only the case (a path) goes to the
actor and only the small result comes back: images and masks move through the shared filesystem,
never the object store. An actor whose process dies is restarted by Ray (on any node with room),
and the calls it held are retried; a case that kills its worker :data:`MAX_ATTEMPTS` times is an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from totalseg.batch.cases import Case
from totalseg.batch.runner import WORKER_DIED, CaseResult, CaseRunner, SegmentJob
from totalseg.errors import InputError

MAX_ATTEMPTS = 3
POLL_S = 0.5
ResultCallback = Callable[[CaseResult], None]
INSTALL_HINT = "the Ray backend needs Ray: pip install 'totalseg[ray]'"


class CaseActor:
    """A worker on the cluster: one :class:`CaseRunner`, models loaded once per actor process."""

    def __init__(self, job: SegmentJob):
        self.runner = CaseRunner(job)

    def run(self, case: Case) -> CaseResult:
        return self.runner.run(case)


def import_ray():
    """The ``ray`` module, or an ImportError with the install command."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return ray


def connect(address: str) -> None:
    """Join the cluster at ``address`` (``HOST:PORT``, ``auto``), or start one on this machine (``local``).

    Raises:
        InputError: Ray is not installed, the address is malformed, or no cluster answers there.
    """
    import logging

    try:
        ray = import_ray()
    except ImportError as exc:
        raise InputError(f"--ray {address}: {exc}") from None
    try:
        ray.init(address=None if address == "local" else address, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=True)
    except (ConnectionError, ValueError) as exc:
        raise InputError(f"--ray {address}: cannot join a Ray cluster ({exc}); give HOST:PORT of a head started "
                         "with `ray start --head`, auto on a cluster node, or local") from None


def cluster_workers(*, cpus_per_worker: float, gpus_per_worker: float) -> int:
    """How many workers of this size the connected cluster holds (at least 1)."""
    resources = import_ray().cluster_resources()
    fits = [resources.get("CPU", 0) // cpus_per_worker] if cpus_per_worker else []
    if gpus_per_worker:
        fits.append(resources.get("GPU", 0) // gpus_per_worker)
    return max(1, int(min(fits))) if fits else 1


def run_on_ray(job: SegmentJob, cases: Sequence[Case], on_result: ResultCallback, *, workers: int,
               cpus_per_worker: float = 1, gpus_per_worker: float = 0, threads: int = 2) -> None:
    """Run ``cases`` on ``workers`` actors of the connected cluster (see :func:`connect`)."""
    ray = import_ray()
    actor_class = ray.remote(CaseActor).options(
        num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_concurrency=threads,
        max_restarts=-1, max_task_retries=MAX_ATTEMPTS - 1,
    )
    actors = [actor_class.remote(job) for _ in range(min(workers, len(cases)))]
    todo = list(reversed(cases))
    pending: dict = {}  # object ref -> (case, actor index)
    load = [0] * len(actors)
    while todo or pending:
        for i, actor in enumerate(actors):
            while todo and load[i] < threads + 1:
                case = todo.pop()
                pending[actor.run.remote(case)] = (case, i)
                load[i] += 1
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        for ref in ready:
            case, i = pending.pop(ref)
            load[i] -= 1
            on_result(_result(ray, ref, case))


def _result(ray, ref, case: Case) -> CaseResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:  # the actor died more often than retries allow, or the node is gone
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CaseResult(case=case.name, input=str(case.input), status="error", error_type=WORKER_DIED,
                          error=f"the Ray worker died on this case {MAX_ATTEMPTS} times ({first_line})",
                          finished_at=time.time())
