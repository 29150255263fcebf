"""The app's side of the job store it shares with ``totalseg serve`` and ``totalseg dicom-node``
(:mod:`totalseg.serve.jobs`): its own runs recorded there (source ``app``), one row per job for the
Jobs page, and a finished job opened as a case for the viewer.

An app run is recorded, not queued: the app still runs it in its own worker threads (so the page
gets the result and tile-by-tile progress as before), and the store gets a job that starts
``running`` with a copy of the input and ends ``done`` with ``outputs/segmentation.nii.gz``, or
``failed`` with the run's one-line error.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from totalseg.errors import InputError, TotalsegError
from totalseg.serve.jobs import STAGE_PROGRESS, Job, JobStore
from totalseg.settings import Settings
from totalseg.ui.case import Case, RunChoice, open_case, segment_case
from totalseg.ui.export import multilabel_file

log = logging.getLogger(__name__)


def open_store(data_dir: Path) -> JobStore:
    """The job store in ``data_dir`` (jobs left ``running`` by a stopped process taken back, as a
    starting server does), or one line saying why it cannot be opened."""
    try:
        store = JobStore(data_dir)
        store.requeue_interrupted()
    except OSError as exc:
        raise InputError(f"job store {data_dir}: cannot open ({exc.strerror or exc}); start the app with "
                         "--job-store DIR naming a writable folder") from exc
    return store


def segment_recorded(store: JobStore | None, case: Case, choice: RunChoice, *, settings: Settings,
                     download: bool, on_tile: Callable[[], None] | None = None,
                     on_stage: Callable[[str], None] | None = None) -> Case:
    """:func:`totalseg.ui.case.segment_case`, recorded in ``store`` (``None``: not recorded) from start to end.

    Examples:
        >>> case = segment_recorded(store, case, RunChoice(), settings=settings, download=False)  # doctest: +SKIP
    """
    job_id = None if store is None else _best_effort(lambda: record_run(store, case, choice), "record the run")
    if job_id is None:
        return segment_case(case, choice, settings=settings, download=download, on_tile=on_tile, on_stage=on_stage)

    def stage(name: str) -> None:
        if on_stage is not None:
            on_stage(name)
        _best_effort(lambda: store.update(job_id, progress=STAGE_PROGRESS.get(name, 0.5)), "record progress")

    try:
        result = segment_case(case, choice, settings=settings, download=download, on_tile=on_tile, on_stage=stage)
    except BaseException as exc:
        error = str(exc) if isinstance(exc, TotalsegError) else f"{type(exc).__name__}: {exc}"
        _best_effort(lambda: fail_run(store, job_id, error), "record the failure")
        raise
    try:
        finish_run(store, job_id, result)
    except (TotalsegError, OSError) as exc:  # the page still gets the result; the job says why it has none
        message = f"the result could not be stored: {exc}"
        log.warning("job store: job %s: %s", job_id, message)
        _best_effort(lambda: fail_run(store, job_id, message), "record the failure")
    return result


def _best_effort(action: Callable[[], Any], what: str) -> Any:
    """``action()``, or ``None`` with a logged warning when the job store cannot be written: recording
    a run never stops the run itself."""
    try:
        return action()
    except (TotalsegError, OSError) as exc:
        log.warning("job store: cannot %s: %s", what, exc)
        return None


def record_run(store: JobStore, case: Case, choice: RunChoice) -> str:
    """Record a run the app starts: a ``running`` job (source ``app``) holding a copy of the input.

    Examples:
        >>> job_id = record_run(JobStore(data_dir), case, RunChoice(task="total", mode="fast"))  # doctest: +SKIP
        >>> JobStore(data_dir).get(job_id).status  # doctest: +SKIP
        'running'
    """
    job_id = store.new_folder()
    target = store.folder(job_id) / "input" / case.path.name
    options = {"task": choice.task, "fast": choice.mode == "fast", "fastest": choice.mode == "fastest",
               "roi_subset": list(choice.roi_subset), "ml": True}
    meta = {"name": case.name, "mode": choice.mode, "device": choice.device, "precision": choice.precision}
    try:
        _link_or_copy(case.path, target)
        store.begin(job_id, options=options, input_name=target.name, source="app", meta=meta)
    except (OSError, TotalsegError):
        store.delete(job_id)  # no folder without its job.json
        raise
    return job_id


def finish_run(store: JobStore, job_id: str, case: Case) -> None:
    """Store a finished run's segmentation as the job's ``outputs/segmentation.nii.gz``; mark it done."""
    folder = store.folder(job_id)
    staging = folder / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        multilabel_file(case, staging)
        store.publish_outputs(job_id, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone after the rename; a failed write leaves nothing
    store.merge_meta(job_id, seconds=round(case.seconds, 3))
    store.update(job_id, status="done", progress=1.0)


def fail_run(store: JobStore, job_id: str, error: str) -> None:
    """Mark a recorded run failed with its first error line."""
    store.update(job_id, status="failed", error=error.splitlines()[0] if error else "failed")


def job_rows(store: JobStore) -> list[dict[str, Any]]:
    """One row per job, newest first: what the Jobs page's table shows.

    Examples:
        >>> job_rows(JobStore(data_dir))[0]["source"]  # doctest: +SKIP
        'dicom-node'
    """
    jobs = sorted(store.all(), key=lambda j: j.created, reverse=True)
    return [{"created": datetime.fromtimestamp(j.created).strftime("%Y-%m-%d %H:%M:%S"), "source": j.source,
             "status": j.status, "progress": float(j.progress), "task": describe_options(j.options),
             "input": input_label(j), "error": j.error or "", "delivery": _delivery(j.meta),
             "files": len(store.files(j.id)), "id": j.id} for j in jobs]


def input_label(job: Job) -> str:
    """What a job segments, for people: the uploaded file's name, the DICOM series and its sender, or the
    stored input's name.

    Examples:
        >>> input_label(Job(id="a", status="done", input_name="image.nii.gz", meta={"name": "ct.nii.gz"}))
        'ct.nii.gz'
        >>> input_label(Job(id="a", status="done", input_name="dicom",
        ...                 meta={"modality": "CT", "series_uid": "1.2.840.99", "calling_ae": "PACS"}))
        'CT series 1.2.840.99 from PACS'
    """
    meta = job.meta
    if meta.get("name"):
        return str(meta["name"])
    if meta.get("series_uid"):
        sender = f" from {meta['calling_ae']}" if meta.get("calling_ae") else ""
        return f"{meta.get('modality', '')} series {meta['series_uid']}{sender}".strip()
    return job.input_name


def _delivery(meta: dict[str, Any]) -> str:
    """The delivery status a front end records (the DICOM node: ``delivered``, ``pending``, ...), else empty."""
    delivery = meta.get("delivery")
    return str(delivery.get("status") or "") if isinstance(delivery, dict) else ""


def describe_options(options: dict[str, Any]) -> str:
    """A short label for a job's options.

    Examples:
        >>> describe_options({"task": "total", "fast": True, "roi_subset": ["liver"], "ml": True})
        'total (fast), liver'
    """
    mode = "fastest" if options.get("fastest") else "fast" if options.get("fast") else "full"
    roi = ", ".join(options.get("roi_subset") or ())
    return f"{options.get('task', 'total')} ({mode})" + (f", {roi}" if roi else "")


def can_open(store: JobStore, job: Job) -> bool:
    """Whether the job's result can go to the viewer: done, with a multilabel segmentation and its input."""
    return (job.status == "done" and "segmentation.nii.gz" in store.files(job.id)
            and (store.folder(job.id) / "input" / job.input_name).exists())


def open_job(store: JobStore, job: Job) -> Case:
    """A finished job as a case: its input image with ``segmentation.nii.gz`` as the labels."""
    import nibabel as nib
    import numpy as np

    from totalseg.anatomy.class_maps import class_map
    from totalseg.imaging.volume import LabelVolume
    from totalseg.io import load_label_map

    if not can_open(store, job):
        raise InputError(f"job {job.id}: no segmentation.nii.gz with its input to open; pick a finished job")
    case = open_case(input_label(job), store.folder(job.id) / "input" / job.input_name)
    img = nib.load(store.folder(job.id) / "outputs" / "segmentation.nii.gz")
    labels = LabelVolume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header)
    if labels.shape != case.image.shape:
        raise InputError(f"job {job.id}: segmentation {labels.shape} does not match its input {case.image.shape}")
    choice = _choice(job.options)
    try:
        classes = load_label_map(img)
    except InputError:  # written without a label table: the task's own names
        classes = class_map(choice.task)
    return case.with_segmentation(labels, classes, choice, float(job.meta.get("seconds", 0.0)))


def _choice(options: dict[str, Any]) -> RunChoice:
    mode = "fastest" if options.get("fastest") else "fast" if options.get("fast") else "full"
    return RunChoice(task=options.get("task", "total"), mode=mode, roi_subset=tuple(options.get("roi_subset") or ()))


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the store and the source share a file system, else a copy (a folder: a tree copy)."""
    if source.is_dir():
        shutil.copytree(source, target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
