"""Worker threads: each takes the oldest queued job, runs :func:`totalseg.api.segment` with the
models kept loaded, writes every result into ``staging/`` and renames it to ``outputs/`` when done."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any

from totalseg.errors import TotalsegError
from totalseg.io.outputs import DICOM_OUTPUT_TYPES
from totalseg.serve.jobs import STAGE_PROGRESS, Job, JobStore
from totalseg.settings import Settings

log = logging.getLogger(__name__)


def run_job(store: JobStore, job: Job, *, settings: Settings, device: str = "cpu") -> None:
    """Segment one claimed job; it ends ``done`` with ``outputs/`` or ``failed`` with a one-line error.

    Examples:
        >>> run_job(store, store.claim_next(), settings=Settings.from_env())  # doctest: +SKIP
    """
    folder = store.folder(job.id)
    staging = folder / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _segment_into(staging, folder / "input" / job.input_name, job, store=store, settings=settings,
                      device=device)
        store.publish_outputs(job.id, staging)
    except TotalsegError as exc:
        store.update(job.id, status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return
    except Exception as exc:  # a worker must survive any job; the job records why it failed
        store.update(job.id, status="failed", error=f"internal error: {type(exc).__name__}: {exc}".splitlines()[0])
        return
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if store.get(job.id) is None:  # deleted while it ran: drop what the run wrote
            shutil.rmtree(folder, ignore_errors=True)
    store.update(job.id, status="done", progress=1.0)


def _segment_into(staging: Path, image: Path, job: Job, *, store: JobStore, settings: Settings,
                  device: str) -> None:
    """Run the job's segmentation into ``staging``: ``segmentation.nii.gz``, ``masks.zip`` without
    ``ml``, and with DICOM output types ``segmentation_seg.dcm`` / ``segmentation_rtstruct.dcm``."""
    import nibabel as nib

    from totalseg.api import segment

    options: dict[str, Any] = dict(job.options)
    ml = options.pop("ml", True)
    dicom_types = tuple(t for t in options.pop("output_type", ()) if t in DICOM_OUTPUT_TYPES)
    masks = staging / "masks"
    # DICOM types write the multilabel NIfTI beside them, as the official tool does (-ot nifti dicom_seg)
    multilabel = ml or bool(dicom_types)
    img = segment(image, staging / "segmentation.nii.gz" if multilabel else masks, ml=multilabel,
                  output_type=("nifti", *dicom_types), settings=settings, device=device, quiet=True,
                  keep_models=True, download=False,
                  on_stage=lambda stage: store.update(job.id, progress=STAGE_PROGRESS.get(stage, 0.5)), **options)
    if not multilabel:
        nib.save(img, staging / "segmentation.nii.gz")
    if not ml:
        if dicom_types:
            _write_masks_of(img, masks)
        _zip_masks(masks, staging)


def _write_masks_of(img, masks: Path) -> None:
    """Per-class masks of a multilabel image with its label map (the DICOM outputs' run writes one)."""
    import numpy as np

    from totalseg.imaging.volume import LabelVolume
    from totalseg.io.nifti_ext import load_label_map
    from totalseg.io.writers import write_class_masks

    labels = LabelVolume(np.asarray(img.dataobj), affine=img.affine)
    write_class_masks(labels, masks, load_label_map(img), threads=1)


def _zip_masks(masks: Path, staging: Path) -> None:
    """Per-class masks into ``masks.zip``; any report written into the mask folder moves beside it."""
    with zipfile.ZipFile(staging / "masks.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(masks.iterdir()):
            if path.name.endswith(".nii.gz"):
                zf.write(path, path.name)
            else:
                os.replace(path, staging / path.name)
    shutil.rmtree(masks)


class WorkerPool:
    """``n_workers`` daemon threads polling the store; :meth:`stop` ends them after their current job.

    Every ``recover_s`` seconds one more thread gives back to the queue the jobs left ``running`` by a
    process that died (:meth:`JobStore.requeue_interrupted`), so a server sharing the store with a
    crashed one finishes its jobs without a restart.

    Examples:
        >>> pool = WorkerPool(store, settings=Settings.from_env(), n_workers=2)  # doctest: +SKIP
        >>> pool.start()  # doctest: +SKIP
    """

    def __init__(self, store: JobStore, *, settings: Settings, n_workers: int = 1, device: str = "cpu",
                 poll_s: float = 0.2, recover_s: float = 30.0):
        self.store, self.settings, self.device, self.poll_s = store, settings, device, poll_s
        self.recover_s = recover_s
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, name=f"totalseg-worker-{i}", daemon=True)
                         for i in range(n_workers)]
        self._threads.append(threading.Thread(target=self._recover_loop, name="totalseg-recover", daemon=True))

    def start(self) -> None:
        self.store.requeue_interrupted()
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim_next()
            if job is None:
                self._stop.wait(self.poll_s)
                continue
            run_job(self.store, job, settings=self.settings, device=self.device)

    def _recover_loop(self) -> None:
        while not self._stop.wait(self.recover_s):
            try:
                requeued = self.store.requeue_interrupted()
            except OSError as exc:  # a folder deleted mid-scan, a full disk: try again next round
                log.warning("recovering interrupted jobs failed (%s); retrying in %.0f s", exc, self.recover_s)
                continue
            if requeued:
                log.warning("requeued %d job(s) whose process stopped: %s", len(requeued), ", ".join(requeued))
