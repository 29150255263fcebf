"""``run_batch``: the batch flow behind ``totalseg batch``, for any backend."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from totalseg.batch.cases import Case
from totalseg.batch.folder import BatchFolder
from totalseg.batch.results import result_row, write_results
from totalseg.batch.runner import MEASURES, WORKER_DIED, CaseResult, SegmentJob
from totalseg.cpus import usable_cpus
from totalseg.errors import DownloadError, InputError, WeightsError
from totalseg.settings import Settings

# Errors that do not depend on the case: every case would fail the same way, so the batch stops.
_FATAL = {"WeightsError": WeightsError, "DownloadError": DownloadError}
# Options that do not change what a case's outputs hold: a resumed run may change them.
_RUN_ONLY = ("download",)


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: counts, the failed cases with their errors, the results table."""

    total: int
    ok: int
    failed: int
    skipped: int
    elapsed_s: float
    failures: tuple[tuple[str, str], ...]
    results: Path

    @property
    def cases_per_hour(self) -> float:
        """Throughput of this run (cases segmented or failed, not the skipped ones)."""
        done = self.ok + self.failed - self.skipped
        return 3600.0 * done / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_batch(
    cases: Sequence[Case],
    outdir: str | os.PathLike,
    *,
    options: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    workers: int | None = None,
    threads: int = 2,
    ray_address: str | None = None,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    progress: bool = True,
    measures: Sequence[str] = (),
    reports: Sequence[str] = (),
) -> BatchSummary:
    """Segment every case into ``outdir/<case>/`` and write ``outdir/results.parquet`` and ``.csv``.

    Finished cases (with a done marker) are skipped, so running the same command again resumes an
    interrupted batch. A failing case is recorded as an error and the batch goes on.

    Args:
        cases: from :func:`cases_from_paths` or :func:`cases_from_csv`.
        outdir: the batch output folder.
        options: keyword arguments of :func:`totalseg.segment` (``fast``, ``ml``, ``roi_subset``, ...).
        settings: weights location; read from the environment when omitted.
        workers: worker processes (local, default 1) or Ray actors (default: as many as the cluster's
            CPUs/GPUs hold at ``cpus_per_worker``/``gpus_per_worker`` each); each keeps its models loaded.
        threads: cases in flight per worker (one predicts while the others read or write).
        ray_address: run on Ray: ``auto``, ``HOST:PORT`` or ``local`` (a one-machine cluster).
        cpus_per_worker, gpus_per_worker: Ray resources of each worker.
        progress: show one progress bar with ETA and throughput.
        measures: more per case, as columns of the results table and a JSON file in the case's
            folder: ``phase`` (contrast phase, as ``totalseg phase``), ``modality`` (CT or MR, as
            ``totalseg modality``).
        reports: clinical reports per case (``spine``, ``aorta``, ``pulmonary``, ``body_composition``)
            into ``outdir/<case>/reports/<name>/``, reusing the case's masks, with headline columns
            (``<report>_<number>`` and ``<report>_error``; see :func:`totalseg.reports.runner.headline`).
            A case's ``height_m``, ``weight_kg``, ``sex`` and ``nodeinfo`` come from its :class:`Case`.

    Examples:
        >>> from totalseg.batch import cases_from_paths
        >>> summary = run_batch(cases_from_paths(["scans/"]), "out", options={"fast": True})  # doctest: +SKIP
        >>> summary.ok, summary.results.name  # doctest: +SKIP
        (12, 'results.parquet')
    """
    if not cases:
        raise InputError("no cases to segment; pass image files, DICOM folders or zips, or --list FILE.csv")
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        raise InputError(f"unknown per-case measure {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    if reports:
        from totalseg.reports.runner import check_segment_request

        check_segment_request(reports, output=outdir, task=(options or {}).get("task"),
                              save_lowres=bool((options or {}).get("save_lowres")))
    if (workers is not None and workers < 1) or threads < 1:
        raise InputError(f"workers and threads must be at least 1, got {workers} and {threads}")
    start = time.perf_counter()
    options = segment_options_with_defaults(options or {})
    cases = [replace(c, input=c.input.absolute()) for c in cases]  # workers may run elsewhere
    folder = BatchFolder(Path(outdir).absolute())
    with folder.open({k: v for k, v in options.items() if k not in _RUN_ONLY}):
        todo = [c for c in cases if not folder.is_done(c.name)]
        job = SegmentJob(folder.root, options, _absolute(settings or Settings.from_env()), measures=tuple(measures),
                         reports=tuple(dict.fromkeys(reports)))
        results: dict[str, CaseResult] = {}
        bar = tqdm(total=len(cases), initial=len(cases) - len(todo), unit="case", desc="Cases",
                   disable=not progress, dynamic_ncols=True)

        def on_result(result: CaseResult) -> None:
            results[result.case] = result
            if result.error_type == WORKER_DIED:  # its worker is gone and could not record the failure
                folder.record_failure(result.case, result.record())
            failed = sum(r.status != "ok" for r in results.values())
            bar.update()
            bar.set_postfix({"failed": failed, "cases/h": f"{3600 * len(results) / (time.perf_counter() - start):.0f}"})
            if result.status != "ok" and result.error_type in _FATAL:
                raise _FATAL[result.error_type](result.error)

        try:
            if todo:
                _dispatch(job, todo, on_result, workers=workers, threads=threads, ray_address=ray_address,
                          cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)
            folder.clear_leftovers()  # what killed workers staged; nothing is in flight any more
        finally:
            bar.close()
            table, _ = write_results(_rows(folder, cases, results), folder.root)
    return _summary(folder, cases, len(cases) - len(todo), time.perf_counter() - start, table)


def segment_options_with_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` completed with the defaults of :func:`totalseg.segment`, so that a resumed run
    compares equal however its options were spelled; unknown names are refused."""
    import inspect

    from totalseg.api import segment

    params = inspect.signature(segment).parameters
    fixed = {"input", "output", "settings", "quiet", "on_tile", "on_stage"}
    unknown = sorted(set(options) - (set(params) - fixed))
    if unknown:
        raise InputError(f"unknown segment options {', '.join(unknown)}; see help(totalseg.segment)")
    if isinstance(options.get("statistics"), (str, os.PathLike)):
        raise InputError(f"statistics={str(options['statistics'])!r}: a batch writes each case's statistics.json "
                         "into OUTDIR/<case>/; pass --statistics without a path (and before -o or after the inputs)")
    full = {name: p.default for name, p in params.items() if name not in fixed and p.default is not p.empty}
    full.update(options)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in full.items()}


def _dispatch(job: SegmentJob, todo: list[Case], on_result, *, workers: int | None, threads: int,
              ray_address: str | None, cpus_per_worker: float, gpus_per_worker: float) -> None:
    if ray_address is not None:
        from totalseg.batch import ray_runner

        ray_runner.connect(ray_address)
        try:
            n = workers or ray_runner.cluster_workers(cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker)
            ray_job = replace(job, torch_threads=max(1, int(cpus_per_worker)))
            ray_runner.run_on_ray(ray_job, todo, on_result, workers=n, cpus_per_worker=cpus_per_worker,
                                  gpus_per_worker=gpus_per_worker, threads=threads)
        finally:
            ray_runner.import_ray().shutdown()
    elif (workers or 1) == 1:
        from totalseg.batch.local import run_in_process

        run_in_process(job, todo, on_result, threads=threads)
    else:
        from totalseg.batch.local import run_in_workers

        cores = usable_cpus()
        local_job = replace(job, torch_threads=max(1, cores // workers))
        run_in_workers(local_job, todo, on_result, workers=workers, threads=threads)


def _rows(folder: BatchFolder, cases: Sequence[Case], results: Mapping[str, CaseResult]) -> list[dict[str, Any]]:
    """One row per case that has finished, in this run or an earlier one (the latest outcome wins)."""
    rows = []
    for case in cases:
        result = results.get(case.name)
        if result is None:
            record = folder.done_record(case.name) or folder.failure_record(case.name)
            result = CaseResult.from_record(record) if record else None
        if result is not None:
            rows.append(result_row(result))
    return rows


def _summary(folder: BatchFolder, cases: Sequence[Case], skipped: int, elapsed: float, table: Path) -> BatchSummary:
    ok = sum(folder.is_done(c.name) for c in cases)
    failures = tuple((c.name, (folder.failure_record(c.name) or {}).get("error", "")) for c in cases
                     if not folder.is_done(c.name) and folder.failure(c.name).is_file())
    return BatchSummary(total=len(cases), ok=ok, failed=len(failures), skipped=skipped, elapsed_s=elapsed,
                        failures=failures, results=table)


def _absolute(settings: Settings) -> Settings:
    return Settings(home_dir=Path(settings.home_dir).absolute(), weights_dir=Path(settings.weights_dir).absolute())
