"""A job store on disk: ``<data_dir>/jobs/<id>/`` holds ``job.json``, the upload under ``input/`` and
the results under ``outputs/``, which appears only once a job is complete (written in ``staging/`` and
renamed), so a restart never exposes half-written results."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from totalseg.measure.files import write_json

STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    """One job's state as stored in ``job.json``.

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

    def public(self) -> dict[str, Any]:
        """What ``GET /jobs/{id}`` answers."""
        return {"id": self.id, "status": self.status, "progress": self.progress, "error": self.error}


class JobStore:
    """Jobs under ``<data_dir>/jobs``; thread-safe within one process.

    Examples:
        >>> store = JobStore(tmp_path)  # doctest: +SKIP
        >>> job_id = store.new_folder()  # doctest: +SKIP
    """

    def __init__(self, data_dir: str | os.PathLike):
        self.root = Path(data_dir) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def new_folder(self) -> str:
        """A fresh job folder (not yet a job: :meth:`submit` writes its ``job.json``)."""
        job_id = uuid.uuid4().hex
        (self.folder(job_id) / "input").mkdir(parents=True)
        return job_id

    def submit(self, job_id: str, *, options: dict[str, Any], input_name: str) -> Job:
        job = Job(id=job_id, status="queued", options=options, input_name=input_name)
        self._write(job)
        return job

    def get(self, job_id: str) -> Job | None:
        path = self.folder(job_id) / "job.json"
        try:
            return Job(**json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def all(self) -> list[Job]:
        jobs = (self.get(p.name) for p in sorted(self.root.iterdir()) if p.is_dir())
        return [job for job in jobs if job is not None]

    def update(self, job_id: str, **changes: Any) -> Job | None:
        """Change a job's fields; ``None`` (and nothing written) when the job was deleted meanwhile."""
        with self._lock:
            current = self.get(job_id)
            if current is None:
                return None
            job = Job(**{**asdict(current), **changes})
            self._write(job)
            return job

    def claim_next(self) -> Job | None:
        """The oldest queued job, marked running; ``None`` when none waits."""
        with self._lock:
            queued = [j for j in self.all() if j.status == "queued"]
            if not queued:
                return None
            oldest = min(queued, key=lambda j: (self.folder(j.id) / "job.json").stat().st_mtime_ns)
            job = Job(**{**asdict(oldest), "status": "running", "progress": 0.0})
            self._write(job)
            return job

    def requeue_interrupted(self) -> list[str]:
        """Jobs left ``running`` by a stopped server go back to the queue; their staging is dropped."""
        requeued = []
        for job in self.all():
            if job.status == "running":
                shutil.rmtree(self.folder(job.id) / "staging", ignore_errors=True)
                self.update(job.id, status="queued", progress=0.0, error=None)
                requeued.append(job.id)
        return requeued

    def files(self, job_id: str) -> list[str]:
        outputs = self.folder(job_id) / "outputs"
        return sorted(p.name for p in outputs.iterdir() if p.is_file()) if outputs.is_dir() else []

    def delete(self, job_id: str) -> None:
        """Remove the job and its folder (``job.json`` first, so a worker still on it sees it gone)."""
        with self._lock:
            (self.folder(job_id) / "job.json").unlink(missing_ok=True)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def counts(self) -> dict[str, int]:
        """Jobs per status (every status present, 0 where none)."""
        counts = dict.fromkeys(STATUSES, 0)
        for job in self.all():
            counts[job.status] = counts.get(job.status, 0) + 1
        return counts

    def _write(self, job: Job) -> None:
        write_json(asdict(job), self.folder(job.id) / "job.json")
