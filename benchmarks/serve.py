"""Load and crash test of ``totalseg serve`` on loopback: concurrent jobs, then a server killed mid-job.

Usage::

    python benchmarks/serve.py                 # 20 jobs, 2 workers, into docs/benchmarks.md
    python benchmarks/serve.py --jobs 8 --workers 1 --no-write

1. Load: one ``totalseg serve`` process (a free 127.0.0.1 port, a fresh ``--data-dir``, tiny seeded
   weights of the official 3 mm model, ``--workers N``) receives ``--jobs`` uploads of the shared
   122x101x30 CT at once (one client thread per job, ``task=total``, ``fast=true``). The script polls
   until every job is done and reports the throughput (jobs per minute from the first upload to the
   last job done), the latency of each job (upload sent to ``done`` seen, polled every 0.1 s) as p50
   and p95, and the peak resident memory of the server process.
2. Crash: a second server receives ``--crash-jobs`` jobs and is killed with SIGKILL once a job is
   done and another is running. The job folders are checked as the kill left them (every ``outputs/`` folder complete:
   every NIfTI in it reads in full), then a server restarts on the same data dir and every job must
   end ``done`` or ``failed``; each done job's ``segmentation.nii.gz`` is fetched over HTTP and must
   be a valid NIfTI of the input's shape.

Everything runs on loopback, and every wait is bounded (``--timeout-s`` in all); progress lines go
to stderr.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gzip
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nibabel as nib
import numpy as np
import psutil
from harness import BENCH_DIR, ROOT, machine, write_section

CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIELDS = {"task": "total", "fast": "true"}
_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f} s] {message}", file=sys.stderr, flush=True)


def tiny_weights(root: Path = BENCH_DIR / "serve-weights") -> Path:
    """Tiny seeded weights of the official 3 mm total model (the ``--fast`` model), cached."""
    from totalseg.models.synthetic import write_random_weights

    if not root.is_dir():
        write_random_weights(root, [297], tiny=True, seed=0)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``totalseg serve`` as a child process, with its peak RSS sampled every 0.05 s."""

    def __init__(self, data_dir: Path, weights: Path, *, workers: int, deadline: float):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(weights), "TOTALSEG_HOME_DIR": str(weights.parent),
               "OMP_NUM_THREADS": "1"}
        self.log_file = (data_dir.parent / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "totalseg", "serve", "--port", str(self.port),
                                      "--token", TOKEN, "--data-dir", str(data_dir), "--workers", str(workers)],
                                     env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.peak_rss = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._wait_healthy(deadline)

    def _sample(self) -> None:
        proc = psutil.Process(self.proc.pid)
        while self._sampling:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"totalseg serve exited with {self.proc.returncode}; see {self.log_file.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit("totalseg serve did not answer /health in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._sampling = False

    def stop(self) -> None:
        self._sampling = False
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log_file.close()


def submit(url: str, payload: bytes) -> tuple[str, float]:
    """One upload; returns the job id and the monotonic time the upload started."""
    start = time.monotonic()
    reply = httpx.post(f"{url}/jobs", headers=AUTH, data=FIELDS,
                       files={"file": ("ct.nii.gz", payload, "application/gzip")}, timeout=120)
    if reply.status_code != 201:
        raise SystemExit(f"POST /jobs answered {reply.status_code}: {reply.text}")
    return reply.json()["id"], start


def submit_all(url: str, n: int) -> dict[str, float]:
    payload = CT.read_bytes()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: submit(url, payload), range(n)))
    return dict(results)


def poll_until_finished(url: str, ids: list[str], deadline: float) -> dict[str, tuple[str, float]]:
    """Each job's final status and the monotonic time it was first seen finished."""
    finished: dict[str, tuple[str, float]] = {}
    last_report = 0.0
    with httpx.Client(headers=AUTH, timeout=10) as client:
        while len(finished) < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(ids) - len(finished)} of {len(ids)} jobs unfinished at the deadline")
            for job_id in ids:
                if job_id not in finished:
                    status = client.get(f"{url}/jobs/{job_id}").json()["status"]
                    if status in ("done", "failed"):
                        finished[job_id] = (status, time.monotonic())
            if time.monotonic() - last_report > 5:
                log(f"{len(finished)}/{len(ids)} jobs finished")
                last_report = time.monotonic()
            time.sleep(0.1)
    return finished


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


@dataclass(frozen=True)
class LoadResult:
    jobs: int
    workers: int
    done: int
    wall_s: float
    p50_s: float
    p95_s: float
    peak_rss: int

    @property
    def jobs_per_min(self) -> float:
        return 60 * self.jobs / self.wall_s


def load_test(work: Path, weights: Path, *, n_jobs: int, workers: int, deadline: float) -> LoadResult:
    server = Server(work / "load", weights, workers=workers, deadline=deadline)
    try:
        log(f"load: submitting {n_jobs} jobs at once to {server.url} ({workers} workers)")
        started = submit_all(server.url, n_jobs)
        finished = poll_until_finished(server.url, list(started), deadline)
    finally:
        server.stop()
    failed = [(j, s) for j, (s, _) in finished.items() if s != "done"]
    if failed:
        raise SystemExit(f"load: {len(failed)} jobs failed, e.g. {failed[0]}")
    latencies = [finished[j][1] - started[j] for j in started]
    wall = max(t for _, t in finished.values()) - min(started.values())
    return LoadResult(n_jobs, workers, len(finished), wall, percentile(latencies, 50), percentile(latencies, 95),
                      server.peak_rss)


def complete_nifti(path: Path) -> tuple[int, ...]:
    """The shape of a NIfTI read in full (a truncated gzip stream or short data raises)."""
    with gzip.open(path) as stream:  # reads to the end and checks the gzip CRC
        raw = stream.read()
    img = nib.Nifti1Image.from_stream(io.BytesIO(raw))
    np.asanyarray(img.dataobj)
    return img.shape


def outputs_complete(data_dir: Path) -> tuple[int, int]:
    """(outputs folders, staging folders) as the kill left them; raises if an ``outputs/`` is incomplete."""
    n_outputs = n_staging = 0
    for folder in sorted((data_dir / "jobs").iterdir()):
        n_staging += (folder / "staging").is_dir()
        outputs = folder / "outputs"
        if outputs.is_dir():
            n_outputs += 1
            names = sorted(p.name for p in outputs.iterdir())
            if "segmentation.nii.gz" not in names:
                raise SystemExit(f"crash: {outputs} lacks segmentation.nii.gz: {names}")
            for name in names:
                if name.endswith(".nii.gz"):
                    complete_nifti(outputs / name)
    return n_outputs, n_staging


@dataclass(frozen=True)
class CrashResult:
    jobs: int
    running_at_kill: int
    outputs_at_kill: int
    staging_at_kill: int
    done: int
    failed: int
    valid_nifti: int
    recovery_s: float


def wait_running(url: str, ids: list[str], deadline: float) -> int:
    """Wait until one job is done and another runs past its load stage; returns how many run."""
    with httpx.Client(headers=AUTH, timeout=10) as client:
        while time.monotonic() < deadline:
            states = [client.get(f"{url}/jobs/{j}").json() for j in ids]
            running = [s for s in states if s["status"] == "running"]
            some_done = any(s["status"] == "done" for s in states) or len(ids) == 1
            if some_done and any(s["progress"] >= 0.3 for s in running):
                return len(running)
            time.sleep(0.05)
    raise SystemExit("crash: no job reached the network before the deadline")


def crash_test(work: Path, weights: Path, *, n_jobs: int, workers: int, deadline: float) -> CrashResult:
    data_dir = work / "crash"
    server = Server(data_dir, weights, workers=workers, deadline=deadline)
    try:
        ids = list(submit_all(server.url, n_jobs))
        running = wait_running(server.url, ids, deadline)
        log(f"crash: {running} job(s) running; kill -9 the server")
        server.kill()
    finally:
        server.stop()
    n_outputs, n_staging = outputs_complete(data_dir)
    log(f"crash: after the kill {n_outputs} complete outputs/ folders, {n_staging} staging/ folders; restarting")
    start = time.monotonic()
    server = Server(data_dir, weights, workers=workers, deadline=deadline)
    try:
        finished = poll_until_finished(server.url, ids, deadline)
        recovery = max(t for _, t in finished.values()) - start
        valid = sum(fetch_valid(server.url, j) for j, (s, _) in finished.items() if s == "done")
    finally:
        server.stop()
    statuses = [s for s, _ in finished.values()]
    outputs_complete(data_dir)
    return CrashResult(n_jobs, running, n_outputs, n_staging, statuses.count("done"), statuses.count("failed"),
                       valid, recovery)


def fetch_valid(url: str, job_id: str) -> bool:
    """Whether a done job's segmentation downloads as a complete NIfTI of the input's shape."""
    reply = httpx.get(f"{url}/jobs/{job_id}/files/segmentation.nii.gz", headers=AUTH, timeout=60)
    if reply.status_code != 200:
        return False
    with tempfile.NamedTemporaryFile(suffix=".nii.gz") as tmp:
        tmp.write(reply.content)
        tmp.flush()
        return complete_nifti(Path(tmp.name)) == nib.load(CT).shape


def report(load: LoadResult, crash: CrashResult, load_avg: float) -> str:
    return f"""## `totalseg serve` under load and killed mid-job

`python benchmarks/serve.py` starts `totalseg serve` on a free loopback port with a fresh data dir
and tiny seeded weights of the official 3 mm model, sends {load.jobs} uploads of the shared
122x101x30 CT at once (`task=total`, `fast=true`, one client thread each) and polls until all are
done. Latency is upload start to `done` seen (polled every 0.1 s); throughput counts from the first
upload to the last job done; peak RSS is the server process's. The tiny weights make the network
cheap, so the numbers measure the server (upload, queue, job store, reading, resampling, writing),
not the model.

| jobs | workers | done | wall | throughput | p50 latency | p95 latency | server peak RSS |
|---:|---:|---:|---:|---:|---:|---:|---:|
| {load.jobs} | {load.workers} | {load.done} | {load.wall_s:.1f} s | {load.jobs_per_min:.1f} jobs/min | \
{load.p50_s:.1f} s | {load.p95_s:.1f} s | {load.peak_rss / 2**20:.0f} MiB |

Crash test: {crash.jobs} jobs submitted, the server killed with SIGKILL once a job was done, while \
{crash.running_at_kill} job(s) ran. As the kill left the disk: {crash.outputs_at_kill} `outputs/` folder(s), every one \
complete (each NIfTI read in full), and {crash.staging_at_kill} `staging/` folder(s) of interrupted \
runs. After a restart on the same data dir: {crash.done} done, {crash.failed} failed, \
{crash.valid_nifti} of {crash.done} done segmentations fetched over HTTP are complete NIfTI files of \
the input's shape; all jobs finished {crash.recovery_s:.1f} s after the restart.

Machine: {machine()}; the container is limited to 2 CPU cores and other work may have been running
at the same time (1-minute load average {load_avg:.1f} when the run started).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crash-jobs", type=int, default=6)
    parser.add_argument("--timeout-s", type=float, default=900, help="bound on the whole run")
    parser.add_argument("--no-write", action="store_true", help="print, do not update docs/benchmarks.md")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout_s
    load_avg = os.getloadavg()[0]
    weights = tiny_weights()
    work = Path(tempfile.mkdtemp(prefix="serve-bench-", dir=BENCH_DIR))
    try:
        load = load_test(work, weights, n_jobs=args.jobs, workers=args.workers, deadline=deadline)
        log(f"load: {load}")
        crash = crash_test(work, weights, n_jobs=args.crash_jobs, workers=args.workers, deadline=deadline)
        log(f"crash: {crash}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if crash.done + crash.failed != crash.jobs or crash.valid_nifti != crash.done:
        raise SystemExit(f"crash: jobs did not all end cleanly: {crash}")
    text = report(load, crash, load_avg)
    print(text)
    if not args.no_write:
        write_section("serve", text)


if __name__ == "__main__":
    main()
