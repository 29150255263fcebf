"""One worker's side of a batch: segment cases into the batch folder, one result per case.

A :class:`CaseRunner` runs several cases at once in threads but lets only one of them predict at a
time (an inference lock): while one case is in the network, the next one is read and the previous
one written, so reading, inference and writing overlap. Models stay loaded between cases
(``load_model`` caches them per process). Every failure of a case becomes an ``error`` result; the
batch goes on.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from totalseg.batch.cases import Case
from totalseg.batch.folder import BatchFolder
from totalseg.engine.heap import keep_freed_memory
from totalseg.errors import TotalsegError
from totalseg.settings import Settings

STAGES = ("read", "load", "wait", "predict", "write")
# Seconds per stage, then the network's forward passes (part of predict), then the whole case.
TIMINGS = (*STAGES, "network", "total")
ML_FILE = "segmentations.nii.gz"
MEASURES = ("phase", "modality")  # per-case measures a batch can add (columns of the results table)
WORKER_DIED = "WorkerDied"  # the error type of a case whose worker process died on it (set by the backends)
STATISTICS_FILE = "statistics.json"
QC_FILE = "qc.json"


@dataclass(frozen=True)
class CaseResult:
    """What became of one case: ``status`` is ``ok`` or ``error``; ``timings_s`` holds seconds per
    stage (``read``, ``load``, ``wait`` for the inference lock, ``predict``, ``write``), the part of
    ``predict`` spent in the network's forward passes (``network``) and the whole case (``total``)."""

    case: str
    input: str
    status: str
    error: str = ""
    error_type: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    statistics: dict[str, dict[str, Any]] | None = None
    measures: dict[str, Any] | None = None
    reports: dict[str, dict[str, Any]] | None = None
    qc: dict[str, Any] | None = None  # qc.json of the case (--qc)
    worker: str = ""
    finished_at: float = 0.0

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict (the done marker's content)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CaseResult:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record})


@dataclass(frozen=True)
class SegmentJob:
    """Everything a worker needs to segment cases (picklable, sent to worker processes and Ray actors).

    Attributes:
        outdir: the batch output folder.
        options: keyword arguments of :func:`totalseg.segment` (not input, output, settings).
        settings: where the weights live.
        torch_threads: intra-op threads per worker; 0 leaves torch's default.
        measures: per-case measures besides the segmentation (:data:`MEASURES`).
        reports: clinical reports per case (:data:`totalseg.reports.REPORTS`), into ``<case>/reports/``.
    """

    outdir: Path
    options: Mapping[str, Any]
    settings: Settings
    torch_threads: int = 0
    measures: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()


class CaseRunner:
    """Segments cases of one job; thread-safe, with one case in inference at a time.

    Examples:
        >>> runner = CaseRunner(job)  # doctest: +SKIP
        >>> runner.run(Case("p1", Path("p1.nii.gz"))).status  # doctest: +SKIP
        'ok'
    """

    def __init__(self, job: SegmentJob):
        self.job = job
        self.folder = BatchFolder(job.outdir)
        self._inference = threading.Lock()
        self._worker = f"{socket.gethostname()}:{os.getpid()}"
        keep_freed_memory()  # this process runs tile after tile
        if job.torch_threads > 0:
            import torch

            torch.set_num_threads(job.torch_threads)

    def run(self, case: Case) -> CaseResult:
        """Segment one case into ``OUTDIR/<case>/`` and mark it done; never raises for a bad case."""
        clock = _StageClock(self._inference)
        staged = None
        try:
            staged = self.folder.stage(case.name)
            result = self._segment(case, staged, clock)
            self.folder.commit(case.name, staged, result.record())
            return result
        except Exception as exc:  # noqa: BLE001 - any failure of one case is recorded, the batch goes on
            if staged is not None:
                self.folder.discard(staged)
            result = self._result(case, clock, error=exc)
            self.folder.record_failure(case.name, {**result.record(), "traceback": traceback.format_exc()})
            return result
        finally:
            clock.stop()

    def _segment(self, case: Case, staged: Path, clock: _StageClock) -> CaseResult:
        from totalseg.api import segment

        options = dict(self.job.options)
        output = staged / ML_FILE if options.get("ml") else staged
        # the path, not a read Volume: segment() reads DICOM series itself (for DICOM outputs and the MR task)
        if options.get("qc") and "height_m" in case.patient and "weight_kg" in case.patient:
            # the case list's height and weight scale the QC's organ volume ranges
            options.update(height_m=case.patient["height_m"], weight_kg=case.patient["weight_kg"])
        segment(case.input, output, settings=self.job.settings, quiet=True, on_stage=clock, **options)
        stats_path = staged / STATISTICS_FILE
        stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else None
        measures = {name: self._measure(name, case, staged) for name in self.job.measures} or None
        reports = self._reports(case, staged, output) if self.job.reports else None
        qc_path = staged / QC_FILE
        qc = json.loads(qc_path.read_text(encoding="utf-8")) if qc_path.is_file() else None
        return self._result(case, clock, statistics=stats, measures=measures, reports=reports, qc=qc)

    def _measure(self, name: str, case: Case, staged: Path) -> dict[str, Any]:
        """``phase`` or ``modality`` of the case, as the commands compute them, also kept as JSON."""
        from totalseg.measure.files import write_json

        run = {"settings": self.job.settings, "device": self.job.options.get("device", "cpu"),
               "download": self.job.options.get("download", True)}
        if name == "phase":
            from totalseg.measure.phase import get_phase

            result = get_phase(case.input, **run)
        else:
            from totalseg.measure.modality import get_modality

            result = get_modality(case.input, **run)
        write_json(result, staged / f"{name}.json")
        return result

    def _reports(self, case: Case, staged: Path, output: Path) -> dict[str, dict[str, Any]]:
        """The clinical reports of the case into ``<case>/reports/<name>/``, reusing its masks (and its
        ``phase.json``); each report's headline numbers, or its reason in ``error``."""
        from totalseg.reports.runner import headline, reports_after_segment

        options = self.job.options
        _, results = reports_after_segment(
            case.input, output, self.job.reports, task=options.get("task"), ml=bool(options.get("ml")),
            output_type=options.get("output_type", "nifti"), skip_saving=bool(options.get("skip_saving")),
            settings=self.job.settings, device=options.get("device", "cpu"), download=options.get("download", True),
            **case.patient)
        return {name: headline(name, result) for name, result in results.items()}

    def _result(self, case: Case, clock: _StageClock, *, error: BaseException | None = None,
                statistics: dict | None = None, measures: dict | None = None,
                reports: dict | None = None, qc: dict | None = None) -> CaseResult:
        message = "" if error is None else str(error) if isinstance(error, TotalsegError) else (
            f"{type(error).__name__}: {error}")
        return CaseResult(
            case=case.name, input=str(case.input), status="ok" if error is None else "error",
            error=message, error_type="" if error is None else type(error).__name__,
            timings_s=clock.timings(), statistics=statistics, measures=measures, reports=reports, qc=qc,
            worker=self._worker,
            finished_at=time.time(),
        )


class _StageClock:
    """The ``on_stage`` callback of ``segment``: times each stage and holds the inference lock from
    the start of ``predict`` to the start of ``write``. While it holds the lock no other case of
    this process runs the network, so the process-wide network clock's advance is this case's."""

    def __init__(self, lock: threading.Lock):
        self._lock, self._held = lock, False
        self._start = self._stage_start = time.perf_counter()
        self._stage = "read"
        self._times: dict[str, float] = {}
        self._network_start = 0.0

    def __call__(self, stage: str) -> None:
        now = self._close_stage()
        if stage == "predict":
            from totalseg.engine.predictor import network_clock

            self._lock.acquire()
            self._held = True
            self._network_start = network_clock.seconds
            self._times["wait"] = time.perf_counter() - now
            now = time.perf_counter()
        elif self._held:
            self._release()
        self._stage, self._stage_start = stage, now

    def _close_stage(self) -> float:
        now = time.perf_counter()
        self._times[self._stage] = self._times.get(self._stage, 0.0) + now - self._stage_start
        return now

    def _release(self) -> None:
        from totalseg.engine.predictor import network_clock

        self._times["network"] = self._times.get("network", 0.0) + network_clock.seconds - self._network_start
        self._held = False
        self._lock.release()

    def stop(self) -> None:
        if self._held:
            self._release()

    def timings(self) -> dict[str, float]:
        """Seconds per stage so far; ends the current stage."""
        self._stage_start = self._close_stage()
        self._stage = "done"
        times = {s: round(self._times.get(s, 0.0), 4) for s in (*STAGES, "network")}
        times["total"] = round(time.perf_counter() - self._start, 4)
        return times


class CasePool:
    """Daemon threads running ``runner.run`` on the cases put in; results come out of :meth:`get`.

    Daemon threads let Ctrl-C end the process at once: an abandoned case leaves only a staging
    folder, cleared by the next run.
    """

    def __init__(self, runner: CaseRunner, *, threads: int = 2):
        self._tasks: queue.Queue[Case | None] = queue.Queue()
        self._results: queue.Queue[CaseResult] = queue.Queue()
        self._threads = [threading.Thread(target=self._serve, args=(runner,), daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def put(self, case: Case) -> None:
        self._tasks.put(case)

    def get(self, timeout: float | None = None) -> CaseResult:
        """The next finished case; raises ``queue.Empty`` after ``timeout`` seconds."""
        return self._results.get(timeout=timeout)

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)

    def _serve(self, runner: CaseRunner) -> None:
        while (case := self._tasks.get()) is not None:
            self._results.put(runner.run(case))
