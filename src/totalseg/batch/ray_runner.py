"""The Ray backend: the same cases run by Ray actors on a cluster.

Each actor is one worker with ``cpus_per_worker``/``gpus_per_worker`` Ray resources; it holds a
:class:`~totalseg.batch.runner.CaseRunner` (models loaded once) and runs a few cases at once
(``max_concurrency``) so reading and writing overlap inference. Only the case (a path) goes to the
actor and only the small result comes back: images and masks move through the shared filesystem,
never the object store. An actor whose process dies is replaced (on any node with room) and the
cases it held run again, each alone; a case that kills its worker :data:`MAX_ATTEMPTS` times while
alone is an error.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

from totalseg.batch.cases import Case
from totalseg.batch.runner import WORKER_DIED, CaseResult, CaseRunner, SegmentJob
from totalseg.errors import InputError

MAX_ATTEMPTS = 3
POLL_S = 0.5
SOLO = 0  # the actor that reruns the cases of dead actors, one at a time
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
    """Run ``cases`` on ``workers`` actors of the connected cluster (see :func:`connect`).

    An actor whose process dies is replaced by a new one (Ray's own restarts and per-call retries
    are off: they would count a case's deaths against the cases beside it). The cases it held run
    again, each alone on actor :data:`SOLO`; a case that kills that actor :data:`MAX_ATTEMPTS`
    times while alone is an error, and the others are done once.
    """
    ray = import_ray()
    actor_class = ray.remote(CaseActor).options(
        num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_concurrency=threads,
        max_restarts=0, max_task_retries=0,
    )
    pool = _Actors(lambda: actor_class.remote(job), min(workers, len(cases)))
    queue = _Queue(cases, pool.size, threads)
    while queue.busy:
        for case, index in queue.submissions():
            queue.pending[pool.actors[index].run.remote(case)] = (case, index, pool.generation[index])
        ready, _ = ray.wait(list(queue.pending), num_returns=1, timeout=POLL_S)
        for ref in ready:
            case, index, generation, alone = queue.finished(ref)
            try:
                on_result(ray.get(ref))
            except ray.exceptions.RayActorError as exc:  # its actor's process died while it held the case
                pool.replace(ray, index, generation)
                result = queue.died(case, alone, exc)
                if result is not None:
                    on_result(result)
            except ray.exceptions.RayError as exc:  # the node is gone, the object lost
                on_result(_died(case, "the Ray worker failed on this case", exc))


class _Actors:
    """The actors by index, each with a generation that grows when a dead one is replaced."""

    def __init__(self, make: Callable, size: int) -> None:
        self.make, self.size = make, size
        self.actors = [make() for _ in range(size)]
        self.generation = [0] * size

    def replace(self, ray, index: int, generation: int) -> None:
        """A new actor at ``index`` unless the dead one (``generation``) was replaced already."""
        if self.generation[index] == generation:
            ray.kill(self.actors[index], no_restart=True)
            self.actors[index] = self.make()
            self.generation[index] += 1


class _Queue:
    """Which case goes to which actor: new cases to every actor up to ``threads + 1`` each; cases whose
    actor died, one at a time to :data:`SOLO`, which takes nothing else until they are done."""

    def __init__(self, cases: Sequence[Case], actors: int, threads: int) -> None:
        self.todo, self.retry = deque(cases), deque()
        self.pending: dict = {}  # object ref -> (case, actor index, actor generation)
        self.load, self.threads = [0] * actors, threads
        self.solo_case: str | None = None  # the case running alone on SOLO
        self.deaths: Counter[str] = Counter()  # deaths of each case's actor while it ran alone

    @property
    def busy(self) -> bool:
        return bool(self.todo or self.retry or self.pending)

    def submissions(self):
        """``(case, actor index)`` for each call to make now (the caller stores its ref in ``pending``)."""
        if self.retry and self.load[SOLO] == 0:
            case = self.retry.popleft()
            self.solo_case, self.load[SOLO] = case.name, 1
            yield case, SOLO
        for actor in range(len(self.load)):
            if actor == SOLO and (self.retry or self.solo_case is not None):
                continue  # draining for, or running, a case alone
            while self.todo and self.load[actor] < self.threads + 1:
                self.load[actor] += 1
                yield self.todo.popleft(), actor

    def finished(self, ref) -> tuple[Case, int, int, bool]:
        """The case of a finished call, its actor and generation, and whether it ran alone."""
        case, actor, generation = self.pending.pop(ref)
        self.load[actor] -= 1
        alone = actor == SOLO and self.solo_case == case.name
        if alone:
            self.solo_case = None
        return case, actor, generation, alone

    def died(self, case: Case, alone: bool, exc: BaseException) -> CaseResult | None:
        """None when the case goes back to run alone; its error once it killed its actor alone too often."""
        self.deaths[case.name] += alone
        if self.deaths[case.name] < MAX_ATTEMPTS:
            self.retry.append(case)
            return None
        return _died(case, f"the Ray worker died on this case {MAX_ATTEMPTS} times while it ran alone", exc)


def _died(case: Case, what: str, exc: BaseException) -> CaseResult:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CaseResult(case=case.name, input=str(case.input), status="error", error_type=WORKER_DIED,
                      error=f"{what} ({first_line})", finished_at=time.time())
