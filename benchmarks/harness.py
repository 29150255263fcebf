"""What the side-by-side benchmarks share: the official tool in its own venv, seeded weights that
both tools read from one folder, a timed run with the peak memory of its process tree, and the
section of ``docs/benchmarks.md`` each script rewrites.

The official tool runs offline: ``TOTALSEG_WEIGHTS_PATH`` points at the seeded weights and
``TOTALSEG_HOME_DIR`` holds a config.json that turns usage statistics off.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
OFFICIAL_VERSION = "2.18.0"
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class RunResult:
    """One timed command: wall seconds, peak memory of the process tree (bytes), exit code."""

    wall_s: float
    peak_mem: int
    returncode: int
    output: str
    peak_gpu_mem: int = 0


def official_venv(path: Path = BENCH_DIR / "official-venv") -> Path:
    """A venv with ``totalsegmentator==2.18.0`` (and nnunetv2), created on first use; returns its bin dir."""
    exe = path / "bin" / "TotalSegmentator"
    if not exe.exists():
        print(f"creating the official tool's venv in {path} (once) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, f"totalsegmentator=={OFFICIAL_VERSION}"], check=True)
    return path / "bin"


def seeded_weights(model_ids: list[int], *, seed: int = 0, root: Path = BENCH_DIR / "weights") -> Path:
    """Full-size seeded random weights of the official architecture for these models (cached)."""
    from totalseg.models.synthetic import write_random_weights
    from totalseg.models.tasks import all_models

    specs = all_models()
    missing = [m for m in model_ids if not (root / specs[m].folder / specs[m].model_subdir / "fold_0").is_dir()]
    if missing:
        print(f"writing seeded weights for models {missing} ...", file=sys.stderr)
        for mid in missing:  # one seed per model id, so a cached folder never depends on the call order
            write_random_weights(root, [mid], seed=seed + mid)
    return root


# Plans fields the parity benchmarks vary over the same seeded weights: the reader every official
# dataset conversion may have set, and a transpose that permutes the network's axes.
PLANS_VARIANTS: dict[str, dict] = {
    "sitk": {"image_reader_writer": "SimpleITKIO"},
    "nibabel-reorient": {"image_reader_writer": "NibabelIOWithReorient"},
    "nibabel-transposed": {"image_reader_writer": "NibabelIO", "transpose_forward": [2, 0, 1]},
}


def plans_variant(weights: Path, variant: str) -> Path:
    """A weights folder beside ``weights`` whose plans.json files take the fields of ``variant``
    (checkpoints hard-linked, dataset.json copied). With a transpose, the patch size, spacing,
    kernels and strides are permuted with it, so the network sees the same patch in its own order.
    """
    changes = PLANS_VARIANTS[variant]
    if variant == "sitk":
        return weights
    root = weights.parent / f"{weights.name}-{variant}"
    for plans_path in weights.glob("*/*/plans.json"):
        target = root / plans_path.parent.relative_to(weights)
        (target / "fold_0").mkdir(parents=True, exist_ok=True)
        plans = json.loads(plans_path.read_text())
        plans.update({k: v for k, v in changes.items() if k != "transpose_forward"})
        if "transpose_forward" in changes:
            _transpose_plans(plans, changes["transpose_forward"])
        (target / "plans.json").write_text(json.dumps(plans, indent=2))
        (target / "dataset.json").write_text((plans_path.parent / "dataset.json").read_text())
        checkpoint = target / "fold_0" / "checkpoint_final.pth"
        checkpoint.unlink(missing_ok=True)
        os.link(plans_path.parent / "fold_0" / "checkpoint_final.pth", checkpoint)
    return root


def _transpose_plans(plans: dict, forward: list[int]) -> None:
    plans["transpose_forward"] = forward
    plans["transpose_backward"] = [forward.index(i) for i in range(3)]
    for conf in plans["configurations"].values():
        for key in ("patch_size", "spacing", "median_image_size_in_voxels"):
            conf[key] = [conf[key][i] for i in forward]
        for key in ("conv_kernel_sizes", "pool_op_kernel_sizes"):
            conf[key] = [[stage[i] for i in forward] for stage in conf[key]]


def segment_commands(official_bin: Path, official: list[str] | None = None) -> tuple[tuple[str, list[str]], ...]:
    """``("official", command), ("ours", command)``: the two segment commands the parity benchmarks
    run side by side (``official`` replaces the official one, e.g. a patched launcher)."""
    return (("official", official or [str(official_bin / "TotalSegmentator")]),
            ("ours", [str(Path(sys.executable).parent / "totalseg"), "segment", "--no-download"]))


def fresh_output(out: Path) -> Path:
    """``out`` (a file or a folder) removed and its parent created: where a run writes anew."""
    shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def offline_env(weights: Path) -> dict[str, str]:
    """Environment under which both tools read ``weights`` and the official one stays offline."""
    home = weights.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    config = {"send_usage_stats": False, "statistics_disclaimer_shown": True, "prediction_counter": 0}
    (home / "config.json").write_text(json.dumps(config))
    return {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(weights), "TOTALSEG_HOME_DIR": str(home)}


def timed_run(cmd: list[str], env: dict[str, str], *, poll_s: float | None = 0.1, gpu: bool = False) -> RunResult:
    """Run ``cmd``; peak memory is the largest sum of PSS over the process and its children,
    sampled every ``poll_s`` (``None``: not sampled, ``peak_mem`` is 0). The official tool forks
    worker processes that share pages with their parent: PSS counts each shared page once (summed
    RSS would count it once per process).

    Sampling is not free: the kernel walks the page tables for each PSS read (about 15 ms for a
    0.6 GiB process, 45 ms for 2.8 GiB), which takes a share of a small machine's cores from the
    run being timed. Time runs that must be exact with ``poll_s=None``.

    With ``gpu=True`` each sample also reads the GPUs' memory in use (NVML) and ``peak_gpu_mem`` is
    the largest rise over what was in use before the run, CUDA context included. NVML's per-process
    figures name host PIDs inside a container, so the whole device is read: the GPUs must be
    otherwise idle.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if poll_s is None:
        output, _ = proc.communicate()
        return RunResult(time.perf_counter() - start, 0, proc.returncode, output)
    gpu_in_use = GpuMemory() if gpu else None
    baseline = gpu_in_use() if gpu_in_use else 0
    peak = peak_gpu = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_gpu
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(_pss(p) for p in procs))
            except psutil.NoSuchProcess:
                pass
            if gpu_in_use:
                peak_gpu = max(peak_gpu, gpu_in_use() - baseline)
            done.wait(poll_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return RunResult(wall, peak, proc.returncode, output, peak_gpu)


class GpuMemory:
    """Bytes of memory in use on all NVIDIA GPUs, read through NVML (``pip install nvidia-ml-py``)."""

    def __init__(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise SystemExit("GPU memory needs NVML's Python binding: pip install nvidia-ml-py") from None
        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def __call__(self) -> int:
        return sum(int(self._nvml.nvmlDeviceGetMemoryInfo(h).used) for h in self._handles)


def require_gpu(official_bin: Path) -> None:
    """Exit with the fix unless NVML, totalseg's torch and the official tool's torch all see a GPU.

    Each tool falls back to the CPU without one, which would fill a GPU table with CPU numbers.
    """
    try:
        GpuMemory()
    except Exception as exc:  # pynvml.NVMLError and its subclasses: no driver, no device
        raise SystemExit(f"--device gpu: NVML finds no NVIDIA GPU ({exc}); run on a machine with one") from None
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(f"--device gpu: totalseg's torch {torch.__version__} sees no GPU; install the CUDA "
                         "build that matches the driver (see pytorch.org) in this venv")
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
    if subprocess.run([str(official_bin / "python"), "-c", probe]).returncode != 0:
        raise SystemExit(f"--device gpu: the official tool's torch in {official_bin.parent} sees no GPU; "
                         "reinstall torch there with the CUDA build that matches the driver")


def _pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except psutil.NoSuchProcess:
        return 0


def machine() -> str:
    """One line describing the machine the numbers come from."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
        flags = next(line.split(":", 1)[1].split() for line in info if line.startswith("flags"))
        cpu += " (AVX-512)" if "avx512f" in flags else " (AVX2)" if "avx2" in flags else ""
    except (OSError, StopIteration):
        pass
    mem = psutil.virtual_memory().total / 2**30
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def write_section(name: str, markdown: str, path: Path = DOCS) -> None:
    """Replace the text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (appended if absent)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"<!-- {name}:start -->\n{markdown.strip()}\n<!-- {name}:end -->"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"
