"""The DICOM node: the SCP fills the inbox; a loop turns each complete series into one job of the
shared store (``source="dicom-node"``), worker threads run the jobs (:mod:`totalseg.serve.worker`),
and the loop sends each finished job's DICOM-SEG / RTSTRUCT to the target and records the delivery
in the job's ``meta["delivery"]``, so a restarted node delivers what it had not sent yet."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from totalseg.dicomnode.delivery import CStoreTarget, DeliveryError, StowTarget, send
from totalseg.dicomnode.inbox import SERIES_FILE, Inbox
from totalseg.errors import InputError
from totalseg.serve.jobs import Job, JobStore
from totalseg.serve.locking import release, try_hold
from totalseg.serve.worker import WorkerPool
from totalseg.settings import Settings

log = logging.getLogger("totalseg.dicomnode")
SOURCE = "dicom-node"
INPUT_NAME = "dicom"


@dataclass(frozen=True)
class NodeConfig:
    """What the node listens on, how it segments and where results go.

    Attributes:
        options: segment options of every job (``task``, ``fast``, ``roi_subset``, ``output_type``).
        quiet_s: a series is complete once no instance arrived for this long.
        target: where results are sent; ``None`` keeps them in the job store only.
        max_attempts, retry_s: a failed delivery is tried again after ``retry_s`` up to ``max_attempts`` times.

    Examples:
        >>> NodeConfig(port=11112, options={"task": "total", "output_type": ["dicom_seg"]}).ae_title
        'TOTALSEG'
    """

    ae_title: str = "TOTALSEG"
    host: str = "127.0.0.1"
    port: int = 11112
    quiet_s: float = 10.0
    options: dict[str, Any] = field(default_factory=lambda: {"output_type": ["dicom_seg"]})
    target: CStoreTarget | StowTarget | None = None
    max_attempts: int = 5
    retry_s: float = 30.0


class DicomNode:
    """The running node: SCP, workers and the series/delivery loop.

    Examples:
        >>> node = DicomNode("node-data", NodeConfig(port=11112), settings=Settings.from_env())  # doctest: +SKIP
        >>> node.start(); node.wait()  # doctest: +SKIP
    """

    def __init__(self, data_dir: str | Path, config: NodeConfig, *, settings: Settings, n_workers: int = 1,
                 device: str = "cpu", poll_s: float = 0.5):
        self.config, self.poll_s = config, poll_s
        self.store = JobStore(data_dir)
        self.inbox = Inbox(Path(data_dir) / "dicom-node" / "incoming")
        self.pool = WorkerPool(self.store, settings=settings, n_workers=n_workers, device=device)
        self._stop = threading.Event()
        self._server = None
        self._threads = [threading.Thread(target=self._loop, args=(step,), name=f"totalseg-dicom-node-{name}",
                                          daemon=True) for name, step in (("series", self.collect),
                                                                          ("delivery", self.deliver_finished))]
        self._progress: dict[str, tuple[str, float]] = {}
        self._seen: set[str] = set()
        self._settled: set[str] = set()  # jobs not this node's, or delivered: never read again
        self._pool_started = False
        self._hold: int | None = None  # the folder's node.lock while this node runs

    def start(self) -> None:
        """Take back interrupted work, start the workers, the SCP and the loop.

        Raises:
            InputError: another node already runs on this data folder (one node per folder: two would
                collect and deliver the same series).
        """
        self._hold = try_hold(self.inbox.root.parent / "node.lock")
        if self._hold is None:
            raise InputError(f"another totalseg dicom-node already runs on {self.store.root.parent}; stop it "
                             "or give this one its own --data-dir")
        self.recover_orphans()
        self.pool.start()
        self._pool_started = True
        try:
            self.listen()
        except OSError:
            self.stop()
            raise
        waiting = self.inbox.collecting()
        log.info("listening as %s on %s:%d; %d series still collecting; results to %s", self.config.ae_title,
                 self.config.host, self.config.port, len(waiting),
                 self.config.target.describe() if self.config.target else "the job store only")
        for thread in self._threads:
            thread.start()

    def listen(self) -> None:
        """Start the SCP (in its own threads); ``OSError`` when the port cannot be bound."""
        from totalseg.dicomnode.scp import make_ae

        ae, handlers = make_ae(self.config.ae_title, self.inbox)
        self._server = ae.start_server((self.config.host, self.config.port), block=False, evt_handlers=handlers)

    def stop_soon(self) -> None:
        """Make :meth:`wait` return (from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop listening, end the loop, let the workers finish their current job."""
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(10)
        if self._pool_started:
            self.pool.stop()
        release(self._hold)
        self._hold = None
        if server is not None:
            log.info("stopped")

    def wait(self) -> None:
        """Block until :meth:`stop` (or Ctrl-C in the caller)."""
        while not self._stop.wait(1.0):
            pass

    def _loop(self, step) -> None:
        while not self._stop.is_set():
            try:
                step()
            except Exception as exc:  # the node must keep serving; the next round tries again
                log.error("node loop: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            self._stop.wait(self.poll_s)

    def step(self, now: float | None = None) -> None:
        """One round of both loops: :meth:`collect`, then :meth:`deliver_finished`."""
        self.collect(now)
        self.deliver_finished(now)

    def collect(self, now: float | None = None) -> None:
        """Log new series and queue the complete ones."""
        now = time.time() if now is None else now
        for folder in self.inbox.collecting():
            if folder.name not in self._seen:
                self._seen.add(folder.name)
                log.info("series %s: receiving", folder.name)
        for folder in self.inbox.complete(quiet_s=self.config.quiet_s, now=now):
            self.queue_series(folder)

    def deliver_finished(self, now: float | None = None) -> None:
        """Report the progress of this node's jobs and deliver the finished ones (in its own thread,
        so a slow receiver never holds back the series)."""
        now = time.time() if now is None else now
        for job in self._open_jobs():
            self._report(job)
            if job.status in ("done", "failed"):
                self.deliver(job, now=now)

    def _open_jobs(self) -> list[Job]:
        """This node's jobs whose delivery is pending; any other job is read once and then skipped."""
        jobs = []
        for folder in sorted(self.store.root.iterdir()):
            if folder.name in self._settled:
                continue
            job = self.store.get(folder.name)
            if job is None:
                continue
            if job.source != SOURCE or job.meta.get("delivery", {}).get("status") != "pending":
                self._settled.add(job.id)
                self._progress.pop(job.id, None)
            else:
                jobs.append(job)
        return jobs

    def queue_series(self, folder: Path) -> str:
        """Move a complete series into a new job's ``input/dicom`` and queue it; returns the job id."""
        job_id = self.store.new_folder()
        series = self.store.folder(job_id) / "input" / INPUT_NAME
        info = self.inbox.take(folder, series)
        n = self.inbox.count(series)
        self._seen.discard(folder.name)
        self._submit(job_id, info, n)
        log.info("series %s: complete with %d instances from %s -> job %s", info.get("series_uid"), n,
                 info.get("calling_ae") or "?", job_id)
        return job_id

    def _submit(self, job_id: str, info: dict, n_instances: int) -> Job:
        meta = {**info, "instances": n_instances,
                "delivery": {"status": "pending", "attempts": 0, "error": None, "target": None, "time": None}}
        return self.store.submit(job_id, options=dict(self.config.options), input_name=INPUT_NAME, source=SOURCE,
                                 meta=meta)

    def deliver(self, job: Job, *, now: float | None = None) -> str:
        """Send a finished job's DICOM outputs to the target (once its retry wait is over) and record
        the outcome in ``meta["delivery"]``; returns the delivery status."""
        now = time.time() if now is None else now
        delivery = dict(job.meta.get("delivery", {}))
        attempts = int(delivery.get("attempts", 0))
        if job.status == "failed":
            log.error("job %s (series %s) failed: %s", job.id, job.meta.get("series_uid"), job.error)
            return self._record(job.id, delivery, status="not sent", error=f"job failed: {job.error}", now=now)
        if self.config.target is None:
            log.info("job %s: done; no --send-to or --stow-url, results stay in the job store", job.id)
            return self._record(job.id, delivery, status="kept", error=None, now=now)
        if attempts and now - float(delivery.get("time") or 0) < self.config.retry_s:
            return "pending"
        files = [self.store.folder(job.id) / "outputs" / n for n in self.store.files(job.id) if n.endswith(".dcm")]
        target = self.config.target.describe()
        if not files:
            log.error("job %s: no DICOM output to send (output_type %s)", job.id, job.options.get("output_type"))
            return self._record(job.id, delivery, status="failed", error="no DICOM output", now=now, target=target)
        started = time.monotonic()
        try:
            send(files, self.config.target, calling_ae=self.config.ae_title)
        except DeliveryError as exc:
            attempts += 1
            final = attempts >= self.config.max_attempts
            log.error("job %s: delivery %d/%d failed: %s", job.id, attempts, self.config.max_attempts, exc)
            return self._record(job.id, delivery, status="failed" if final else "pending", error=str(exc),
                                now=now, target=target, attempts=attempts)
        log.info("job %s: sent %s to %s in %.1f s", job.id, ", ".join(p.name for p in files), target,
                 time.monotonic() - started)
        return self._record(job.id, delivery, status="delivered", error=None, now=now, target=target,
                            attempts=attempts + 1)

    def _record(self, job_id: str, delivery: dict, *, status: str, error: str | None, now: float,
                **more: Any) -> str:
        self.store.merge_meta(job_id, delivery={**delivery, "status": status, "error": error, "time": now, **more})
        return status

    def _report(self, job: Job) -> None:
        """One log line each time a node job's status or progress changes."""
        state = (job.status, round(job.progress, 2))
        if self._progress.get(job.id) == state:
            return
        self._progress[job.id] = state
        if job.status == "running":
            log.info("job %s: running, %d%%", job.id, round(100 * job.progress))
        elif job.status == "done" and job.meta.get("delivery", {}).get("status") == "pending":
            log.info("job %s: done, outputs %s", job.id, ", ".join(self.store.files(job.id)))

    def recover_orphans(self) -> None:
        """Queue series moved into a job folder by a node that stopped before writing the job."""
        for folder in sorted(self.store.root.iterdir()):
            series = folder / "input" / INPUT_NAME / SERIES_FILE
            if folder.is_dir() and not (folder / "job.json").exists() and series.exists():
                info = json.loads(series.read_text(encoding="utf-8"))
                self._submit(folder.name, info, self.inbox.count(series.parent))
                log.info("series %s: queued as job %s after a restart", info.get("series_uid"), folder.name)
