"""Cases per hour for a cohort: the official TotalSegmentator 2.18.0 in a per-case loop, ``totalseg
segment`` in a per-case loop, and one ``totalseg batch`` run with its models kept loaded.

Usage::

    python benchmarks/batch.py                  # 6 cases, --fast --ml, into docs/benchmarks.md
    python benchmarks/batch.py --input clinical --cases 4
    python benchmarks/batch.py --cases 20 --no-write

The cases are copies of the shared 122x101x30 CT at 3 mm, or with ``--input clinical`` of the
clinical-size CT of speed.py (b) (each its own file, so nothing is cached by name); the weights are
full-size seeded weights of the official 3 mm model (see parity.py). A per-case loop starts one
process per case, as a shell loop around the official tool does; wall time includes process
start-up, model loading and writing. The batch run is one process with ``--workers 1`` (the
default) on this machine's cores. For it the table also gives the steady pace (the median time
between two cases finishing, which leaves out the process start-up and the first case's reading)
over the median network seconds per case (``network_s`` of its results table): how far a warm
process is from the floor of the pipeline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from harness import BENCH_DIR, machine, official_venv, offline_env, seeded_weights, timed_run, write_section
from parity import SHARED_CT
from speed import clinical

INPUTS = {"small": ("122x101x30 CT", lambda: SHARED_CT), "clinical": ("488x404x269 CT, speed.py (b)", clinical)}

ARGS = ("--fast", "--ml")


def make_cases(n: int, folder: Path, source: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"case{i:03d}.nii.gz" for i in range(n)]
    for path in paths:
        if not path.exists():
            shutil.copyfile(source, path)
    return paths


def per_case_loop(cmd: list[str], cases: list[Path], out: Path, env: dict[str, str]) -> float:
    """Seconds for one process per case; fails loudly if a run fails."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    for case in cases:
        target = out / f"{case.name.split('.')[0]}.nii.gz"
        result = timed_run([*cmd, "-i", str(case), "-o", str(target), "-d", "cpu", *ARGS], env)
        if result.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed on {case}:\n{result.output[-2000:]}")
    return time.perf_counter() - start


def batch_run(ours_bin: Path, cases: list[Path], out: Path, env: dict[str, str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(ours_bin), "batch", *map(str, cases), "-o", str(out), "-d", "cpu", "-q", "--no-download", *ARGS]
    result = timed_run(cmd, env)
    if result.returncode != 0:
        raise SystemExit(f"totalseg batch failed:\n{result.output[-2000:]}")
    return result.wall_s


def steady_pace(results: Path) -> tuple[float, float] | None:
    """(median seconds between two cases finishing, median network seconds per case) of a batch run;
    None under 3 cases."""
    rows = sorted(pq.read_table(results).to_pylist(), key=lambda row: row["finished_at"])
    if len(rows) < 3:
        return None
    gaps = [(b["finished_at"] - a["finished_at"]).total_seconds() for a, b in zip(rows, rows[1:])]
    return statistics.median(gaps), statistics.median(row["network_s"] for row in rows)


def markdown(name: str, n: int, seconds: dict[str, float], loads: dict[str, float],
             pace: tuple[float, float] | None) -> str:
    base = seconds["official, per-case loop"]
    label, _ = INPUTS[name]
    flag = "" if name == "small" else f" --input {name}"
    lines = [
        f"### Batch throughput ({n} cases of the {label}, `{' '.join(ARGS)}`, CPU)",
        "",
        f"Machine: {machine()}. `python benchmarks/batch.py{flag} --cases {n}`. Load: the machine's 1-minute load",
        "average after each run; above the core count, other jobs shared the cores and the walls are longer.",
        "",
        "| run | wall | cases/hour | vs official | load |",
        "|---|---|---|---|---|",
    ]
    for run, wall in seconds.items():
        lines.append(f"| {run} | {wall:.1f} s | {3600 * n / wall:.0f} | {base / wall:.2f}x | {loads[run]:.1f} |")
    if pace is not None:
        gap, network = pace
        lines += ["", f"totalseg batch, steady pace: one case every {gap:.2f} s, of which {network:.2f} s in the "
                      f"network: {gap / network:.2f} x the network alone."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6, help="number of cases (default 6)")
    parser.add_argument("--input", choices=sorted(INPUTS), default="small",
                        help="small: the shared CT (default); clinical: speed.py's (b)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    args = parser.parse_args()
    env = offline_env(seeded_weights([297]))
    official_bin, ours_bin = official_venv(), Path(sys.executable).parent / "totalseg"
    work = BENCH_DIR / "batch" / args.input
    cases = make_cases(args.cases, work / "inputs", INPUTS[args.input][1]())
    seconds, loads = {}, {}
    official, segment = [str(official_bin / "TotalSegmentator")], [str(ours_bin), "segment", "-q", "--no-download"]
    for name, run in (
        ("official, per-case loop", lambda: per_case_loop(official, cases, work / "official", env)),
        ("totalseg segment, per-case loop", lambda: per_case_loop(segment, cases, work / "segment", env)),
        ("totalseg batch", lambda: batch_run(ours_bin, cases, work / "batch", env)),
    ):
        print(f"{name} ...", file=sys.stderr, flush=True)
        seconds[name] = run()
        loads[name] = os.getloadavg()[0]
    table = markdown(args.input, args.cases, seconds, loads, steady_pace(work / "batch" / "results.parquet"))
    print(table)
    if not args.no_write:
        write_section("batch" if args.input == "small" else f"batch-{args.input}", table)


if __name__ == "__main__":
    main()
