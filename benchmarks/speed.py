"""Wall time and peak memory of totalseg against the official TotalSegmentator 2.18.0.

Usage::

    python benchmarks/speed.py                       # all cases, median of 3, into docs/benchmarks.md
    python benchmarks/speed.py --cases b-fast        # rerun one case; the other rows are kept
    python benchmarks/speed.py --cases b-fast --repeats 1 --no-write
    python benchmarks/speed.py --device gpu          # both tools on the GPU (needs nvidia-ml-py)

Same inputs, same full-size seeded weights (see parity.py), runs of the two tools alternate so that
a slow patch of the machine hits both. Each run is a fresh process, start-up included. The timed
runs are not watched; one more run of each tool measures peak memory: the largest PSS sum over the
process tree (shared pages counted once), sampled every 0.1 s (sampling takes CPU from the run, so
it is kept out of the timings). "network" is the time totalseg's timed runs themselves spent in
the network's forward passes (``totalseg segment -v`` reports it; one clock read per tile), and
end-to-end / network is the median over those runs of each run's wall time divided by its own
network time: how far a run is from the floor of this pipeline, with both parts of the ratio
measured under the same machine conditions (a shared machine's speed drifts between runs).

Inputs: (a) the shared 122x101x30 CT at 3 mm; (b) a clinical-size CT: that CT resampled to
0.75 x 0.75 x 1.25 mm and mirrored along z to 488 x 404 x 269 voxels (53 M); (c) a large volume:
(b) padded with air to 512 x 512 and mirrored to 900 slices (236 M voxels); (f) the central
64 x 64 x 30 voxels of (a), one 128^3 tile per model at 1.5 mm, for the 5-model full-resolution task,
which also runs on (a) itself (6 tiles per model).
On a GPU (``--device gpu``) the 5-model task also runs on (b), and each peak-memory run also
records the rise in GPU memory in use (NVML, CUDA context included); those rows go to their own
section.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import (
    BENCH_DIR,
    RunResult,
    gib,
    machine,
    official_venv,
    offline_env,
    require_gpu,
    seeded_weights,
    timed_run,
    write_section,
)
from parity import INPUTS, SHARED_CT, center_64


def clinical() -> Path:
    path = INPUTS / "ct_clinical_488x404x269.nii.gz"
    if not path.exists():
        from totalseg.imaging.resample import resample_to_spacing
        from totalseg.io import read_volume

        vol = resample_to_spacing(read_volume(SHARED_CT), spacing_mm=(0.75, 0.75, 1.25), order=1)
        data = _mirror_z(vol.array.astype(np.int16), 269)
        _save(nib.Nifti1Image(data, vol.affine), path)
    return path


def large() -> Path:
    path = INPUTS / "ct_large_512x512x900.nii.gz"
    if not path.exists():
        img = nib.load(clinical())
        data = np.asanyarray(img.dataobj)
        padded = np.full((512, 512, data.shape[2]), -1024, np.int16)
        x0, y0 = (512 - data.shape[0]) // 2, (512 - data.shape[1]) // 2
        padded[x0:x0 + data.shape[0], y0:y0 + data.shape[1]] = data
        affine = img.affine.copy()
        affine[:3, 3] -= affine[:3, :3] @ [x0, y0, 0]
        _save(nib.Nifti1Image(_mirror_z(padded, 900), affine), path)
    return path


def _mirror_z(data: np.ndarray, depth: int) -> np.ndarray:
    reps = -(-depth // data.shape[2])
    blocks = [data if i % 2 == 0 else data[:, :, ::-1] for i in range(reps)]
    return np.ascontiguousarray(np.concatenate(blocks, axis=2)[:, :, :depth])


def _save(img: nib.Nifti1Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("tmp_" + path.name)
    nib.save(img, tmp)
    tmp.replace(path)


@dataclass(frozen=True)
class Case:
    name: str
    make_input: object
    args: tuple[str, ...]
    models: tuple[int, ...]
    what: str
    gpu_only: bool = False  # the official tool needs hours for it on 2 CPU cores


FULL = (291, 292, 293, 294, 295)  # the 1.5 mm total task's five part models
CASES = [
    Case("a-fast", lambda: SHARED_CT, ("--fast",), (297,), "(a) 122x101x30, `--fast`"),
    Case("a-fast-ml", lambda: SHARED_CT, ("--fast", "--ml"), (297,), "(a) 122x101x30, `--fast --ml`"),
    Case("b-fast", clinical, ("--fast",), (297,), "(b) 488x404x269, `--fast`"),
    Case("b-fast-ml", clinical, ("--fast", "--ml"), (297,), "(b) 488x404x269, `--fast --ml`"),
    Case("f-full-ml", center_64, ("--ml",), FULL, "(f) 64x64x30, `total` 5 models, `--ml`"),
    Case("a-full-ml", lambda: SHARED_CT, ("--ml",), FULL, "(a) 122x101x30, `total` 5 models, `--ml` (30 tiles)"),
    Case("c-fast", large, ("--fast",), (297,), "(c) 512x512x900, `--fast`"),
    Case("b-full", clinical, (), FULL, "(b) 488x404x269, `total` 5 models", gpu_only=True),
    Case("b-full-ml", clinical, ("--ml",), FULL, "(b) 488x404x269, `total` 5 models, `--ml`", gpu_only=True),
]


def run_case(case: Case, official_bin: Path, ours_bin: Path, repeats: int, device: str = "cpu") -> dict:
    weights = seeded_weights(sorted(case.models))
    env, image = offline_env(weights), case.make_input()
    tools = {"official": [str(official_bin / "TotalSegmentator"), "-q"],
             "ours": [str(ours_bin), "segment", "--no-download", "-v"]}  # -v: the run's own network time
    gpu = device == "gpu"

    def run(tool: str, poll_s: float | None) -> RunResult:
        out = BENCH_DIR / "speed" / device / case.name / (f"{tool}.nii.gz" if "--ml" in case.args else tool)
        result = timed_run([*tools[tool], "-i", str(image), "-o", str(out), "-d", device, *case.args], env,
                           poll_s=poll_s, gpu=gpu and poll_s is not None)
        if result.returncode != 0:
            raise SystemExit(f"{tool} failed on {case.name}:\n{result.output[-3000:]}")
        what = f"{result.wall_s:.1f} s" if poll_s is None else f"peak {gib(result.peak_mem)}"
        what += f", GPU {gib(result.peak_gpu_mem)}" if gpu and poll_s is not None else ""
        print(f"  {tool}: {what}", file=sys.stderr, flush=True)
        return result

    walls: dict[str, list[float]] = {tool: [] for tool in tools}
    network, ratios = [], []
    for i in range(repeats):
        for tool in (tools if i % 2 == 0 else reversed(tools)):
            result = run(tool, poll_s=None)
            walls[tool].append(result.wall_s)
            if tool == "ours":
                network.append(network_seconds(result.output))
                ratios.append(result.wall_s / network[-1])
    peaks = {tool: run(tool, poll_s=0.1) for tool in tools}
    report = {tool: (statistics.median(walls[tool]), peaks[tool].peak_mem) for tool in tools}
    report["network"], report["ratio"] = statistics.median(network), statistics.median(ratios)
    if gpu:
        report["gpu"] = {tool: peaks[tool].peak_gpu_mem for tool in tools}
    return report


def network_seconds(output: str) -> float:
    """The network time in the ``-v`` timing line of ``totalseg segment``."""
    found = re.search(r"network ([0-9.]+) s over [0-9]+ tiles?", output)
    if found is None:
        raise SystemExit(f"no timing line in totalseg's output:\n{output[-2000:]}")
    return float(found.group(1))


def markdown(results: dict[str, dict], repeats: int, device: str = "cpu") -> str:
    gpu = device == "gpu"
    lines = [
        "## Speed and memory against the official tool" + (", on a GPU" if gpu else ""),
        "",
        f"`python benchmarks/speed.py{' --device gpu' if gpu else ''}`: median wall time of {repeats} alternating "
        "runs (fresh process each, start-up and writing included, not watched), peak memory from one more run of "
        "each tool (PSS, shared pages counted once, summed over the process tree, sampled every 0.1 s"
        + ("; GPU: the rise in GPU memory in use, CUDA context included" if gpu else "")
        + f"), {'GPU' if gpu else 'CPU'}, default settings, same "
        "seeded full-size weights, masks identical (see parity). \"network alone\": the seconds totalseg's timed "
        "runs spent in the network's forward passes (median); end-to-end / network: the median of each run's wall "
        f"time over its own network time. Machine: {machine()}; the official tool "
        f"runs the torch its install brings, {_official_torch()}. "
        "\"code\": the totalseg commit a row was measured at.",
        "",
        "| input, mode | official | totalseg | speed-up | official peak | totalseg peak | memory ratio "
        + ("| official GPU peak | totalseg GPU peak " if gpu else "")
        + "| network alone | end-to-end / network | code |",
        "|---|---|---|---|---|---|---|" + ("---|---|" if gpu else "") + "---|---|---|",
    ]
    for case in CASES:
        if case.name not in results:
            continue
        r = results[case.name]
        (ow, om), (tw, tm), net = r["official"], r["ours"], r["network"]
        gpu_cells = f"{gib(r['gpu']['official'])} | {gib(r['gpu']['ours'])} | " if gpu else ""
        lines.append(f"| {case.what} | {ow:.1f} s | {tw:.1f} s | {ow / tw:.1f}x | {gib(om)} | {gib(tm)} | "
                     f"{tm / om:.2f} | {gpu_cells}{net:.1f} s | {r.get('ratio', tw / net):.2f} | {r['commit']} |")
    return "\n".join(lines)


def _official_torch() -> str:
    python = official_venv() / "python"
    done = subprocess.run([str(python), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    return f"torch {done.stdout.strip()}"


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES],
                        help="default: all (on the CPU all but the GPU-only 5-model runs on (b))")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                        help="where both tools run (default cpu); gpu rows go to their own section")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    args = parser.parse_args()
    official_bin, ours_bin = official_venv(), Path(sys.executable).parent / "totalseg"
    if args.device == "gpu":
        require_gpu(official_bin)
    suffix = "" if args.device == "cpu" else f"-{args.device}"
    store = BENCH_DIR / "speed" / f"results{suffix}.json"  # the rows of earlier runs, kept when a subset is rerun
    results = json.loads(store.read_text()) if store.exists() and args.cases else {}
    fresh, commit = {}, _commit()
    for case in CASES:
        if (args.cases and case.name not in args.cases) or (not args.cases and case.gpu_only and not suffix):
            continue
        print(f"{case.name} ...", file=sys.stderr, flush=True)
        fresh[case.name] = {**run_case(case, official_bin, ours_bin, args.repeats, args.device), "commit": commit}
    table = markdown(fresh if args.no_write else {**results, **fresh}, args.repeats, args.device)
    print(table)
    if not args.no_write:
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps({**results, **fresh}, indent=1))
        write_section(f"speed{suffix}", table)


if __name__ == "__main__":
    main()
