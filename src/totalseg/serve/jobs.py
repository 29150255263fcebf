"""A job store on disk: ``<data_dir>/jobs/<id>/`` holds ``job.json``, the upload under ``input/`` and
the results under ``outputs/``, which appears only once a job is complete (written in ``staging/`` and
renamed), so a restart never exposes half-written results.

One store may be shared by several processes on one data folder (``totalseg serve``, ``totalseg
dicom-node``, the web app): every read-modify-write of a ``job.json`` happens under an exclusive lock
on ``<data_dir>/.jobs.lock`` and every write is atomic (a rename), so no two workers claim one job
and no update is lost. A worker holds a lock on its job's ``run.lock`` while it runs the job; a job
left ``running`` whose lock nobody holds belongs to a process that died, and is taken back.
``<data_dir>/queue/`` holds an empty file per queued job, so claiming reads only those.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from totalseg.measure.files import write_json
from totalseg.serve.locking import exclusive, release, try_hold

STATUSES = ("queued", "running", "done", "failed")
STAGE_PROGRESS = {"load": 0.1, "predict": 0.3, "write": 0.9}
"""A job's recorded progress when its run enters a stage of :func:`totalseg.api.segment` (others: 0.5)."""
SOURCES = ("api", "app", "dicom-node")


@dataclass(frozen=True)
class Job:
    """One job's state as stored in ``job.json``.

    Attributes:
        source: the front end that submitted it: ``api``, ``app`` or ``dicom-node``.
        created: when it was submitted (seconds since the epoch).
        meta: free-form data of the submitting front end (e.g. where the DICOM node delivers the result).

    Examples:
        >>> Job(id="ab", status="queued", options={"task": "total"}).public()
        {'id': 'ab', 'status': 'queued', 'progress': 0.0, 'error': None}
    """

    id: str
    status: str
    options: dict[str, Any] = field(default_factory=dict)
    input_name: str = ""
    progress: float = 0.0
    error: str | None = None
    source: str = "api"
    created: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """What ``GET /jobs/{id}`` answers."""
        return {"id": self.id, "status": self.status, "progress": self.progress, "error": self.error}


_FIELDS = frozenset(f.name for f in dataclasses.fields(Job))
_FINISHED = ("queued", "done", "failed")  # a worker holding the job lets go when it reaches one of these


class JobStore:
    """Jobs under ``<data_dir>/jobs``; safe across threads and processes sharing ``data_dir``.

    Examples:
        >>> store = JobStore(tmp_path)  # doctest: +SKIP
        >>> job_id = store.new_folder()  # doctest: +SKIP
        >>> store.submit(job_id, options={"task": "total"}, input_name="ct.nii.gz", source="api")  # doctest: +SKIP
        >>> store.claim_next().id == job_id  # doctest: +SKIP
        True
    """

    def __init__(self, data_dir: str | os.PathLike):
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue = Path(data_dir) / "queue"  # an empty file per queued job: claims never scan every job
        self._queue.mkdir(exist_ok=True)
        self._lock_file = Path(data_dir) / ".jobs.lock"
        self._thread_lock = threading.Lock()
        self._held: dict[str, int] = {}  # job id -> descriptor holding its run.lock (jobs this process runs)

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def new_folder(self) -> str:
        """A fresh job folder (not yet a job: :meth:`submit` writes its ``job.json``)."""
        job_id = uuid.uuid4().hex
        (self.folder(job_id) / "input").mkdir(parents=True)
        return job_id

    def submit(self, job_id: str, *, options: dict[str, Any], input_name: str, source: str = "api",
               meta: dict[str, Any] | None = None) -> Job:
        """Queue the job of a folder from :meth:`new_folder` whose ``input/`` holds ``input_name``."""
        job = _new_job(job_id, "queued", options, input_name, source, meta)
        self._write(job)
        return job

    def begin(self, job_id: str, *, options: dict[str, Any], input_name: str, source: str,
              meta: dict[str, Any] | None = None) -> Job:
        """Record a job that its front end runs itself (the web app): it starts ``running``, held by
        this process, so no worker claims it; :meth:`update` it to ``done`` or ``failed``."""
        job = _new_job(job_id, "running", options, input_name, source, meta)
        with self._locked():
            self._hold(job_id)
            self._write(job)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None`` when there is none; ``job.json`` files from before ``source``,
        ``created`` and ``meta`` existed load with defaults (``created``: the file's time)."""
        path = self.folder(job_id) / "job.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if "created" not in data:
                data["created"] = path.stat().st_mtime
        except (FileNotFoundError, NotADirectoryError):
            return None
        return Job(**{k: v for k, v in data.items() if k in _FIELDS})

    def all(self) -> list[Job]:
        jobs = (self.get(p.name) for p in sorted(self.root.iterdir()) if p.is_dir())
        return [job for job in jobs if job is not None]

    def update(self, job_id: str, **changes: Any) -> Job | None:
        """Change a job's fields; ``None`` (and nothing written) when the job was deleted meanwhile."""
        with self._locked():
            current = self.get(job_id)
            if current is None:
                return None
            job = dataclasses.replace(current, **changes)
            self._write(job)
            if job.status in _FINISHED:
                release(self._held.pop(job_id, None))
            return job

    def merge_meta(self, job_id: str, **entries: Any) -> Job | None:
        """Add or replace entries of a job's ``meta`` (read and written under the lock, so entries other
        threads or processes add meanwhile are kept); ``None`` when the job was deleted.

        Examples:
            >>> store.merge_meta(job_id, delivery={"status": "sent"}).meta  # doctest: +SKIP
            {'target': 'PACS@10.0.0.5:104', 'delivery': {'status': 'sent'}}
        """
        with self._locked():
            current = self.get(job_id)
            if current is None:
                return None
            job = dataclasses.replace(current, meta={**current.meta, **entries})
            self._write(job)
            return job

    def claim_next(self) -> Job | None:
        """The oldest queued job, marked running and held by this process; ``None`` when none waits.

        Only the queue index (``<data_dir>/queue/<id>``) is read, so idle workers polling cost little
        however many jobs the store keeps.
        """
        entries = [p.name for p in self._queue.iterdir() if not p.name.startswith(".")]
        if not entries:
            return None
        with self._locked():
            queued = []
            for job_id in entries:
                job = self.get(job_id)
                if job is not None and job.status == "queued":
                    queued.append(job)
                else:  # a stale entry (the job was deleted or moved on)
                    (self._queue / job_id).unlink(missing_ok=True)
            for oldest in sorted(queued, key=lambda j: (j.created, j.id)):
                if self._hold(oldest.id):
                    job = dataclasses.replace(oldest, status="running", progress=0.0)
                    self._write(job)
                    return job
            return None

    def requeue_interrupted(self) -> list[str]:
        """Jobs left ``running`` by a process that stopped go back to the queue (their staging is
        dropped); a web-app run, which no worker can redo, fails instead. Jobs another live process
        is running are left alone. Queued jobs missing from the queue index (a store written before
        it existed) are added to it."""
        requeued = []
        with self._locked():
            for job in self.all():
                if job.status == "queued":
                    (self._queue / job.id).touch()
                if job.status != "running" or job.id in self._held:
                    continue
                fd = try_hold(self.folder(job.id) / "run.lock")
                if fd is None:  # its process is alive and running it
                    continue
                release(fd)
                shutil.rmtree(self.folder(job.id) / "staging", ignore_errors=True)
                if job.source == "app":
                    self._write(dataclasses.replace(job, status="failed", error="interrupted: the web app stopped "
                                                    "while it ran; run it again"))
                else:
                    self._write(dataclasses.replace(job, status="queued", progress=0.0, error=None))
                    requeued.append(job.id)
        return requeued

    def publish_outputs(self, job_id: str, staging: Path) -> None:
        """Make a finished run's ``staging`` folder the job's ``outputs/`` in one rename; the ``outputs/``
        of a run killed after its rename but before it was recorded done is replaced."""
        outputs = self.folder(job_id) / "outputs"
        shutil.rmtree(outputs, ignore_errors=True)
        os.replace(staging, outputs)

    def files(self, job_id: str) -> list[str]:
        outputs = self.folder(job_id) / "outputs"
        return sorted(p.name for p in outputs.iterdir() if p.is_file()) if outputs.is_dir() else []

    def delete(self, job_id: str) -> None:
        """Remove the job and its folder (``job.json`` first, so a worker still on it sees it gone)."""
        with self._locked():
            (self.folder(job_id) / "job.json").unlink(missing_ok=True)
            (self._queue / job_id).unlink(missing_ok=True)
            release(self._held.pop(job_id, None))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def counts(self) -> dict[str, int]:
        """Jobs per status (every status present, 0 where none)."""
        counts = dict.fromkeys(STATUSES, 0)
        for job in self.all():
            counts[job.status] = counts.get(job.status, 0) + 1
        return counts

    def _locked(self):
        return exclusive(self._lock_file, self._thread_lock)

    def _hold(self, job_id: str) -> bool:
        """Take the job's ``run.lock`` for this process (under the store lock); ``False`` if held elsewhere."""
        fd = try_hold(self.folder(job_id) / "run.lock")
        if fd is not None:
            self._held[job_id] = fd
        return fd is not None

    def _write(self, job: Job) -> None:
        """Write ``job.json``, then keep the queue index in step with the status."""
        write_json(asdict(job), self.folder(job.id) / "job.json")
        if job.status == "queued":
            (self._queue / job.id).touch()
        else:
            (self._queue / job.id).unlink(missing_ok=True)


def _new_job(job_id: str, status: str, options: dict[str, Any], input_name: str, source: str,
             meta: dict[str, Any] | None) -> Job:
    if source not in SOURCES:
        raise ValueError(f"source {source!r}: expected one of {', '.join(SOURCES)}")
    return Job(id=job_id, status=status, options=options, input_name=input_name, source=source,
               created=time.time(), meta=dict(meta or {}))
