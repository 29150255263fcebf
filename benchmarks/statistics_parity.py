"""statistics.json of totalseg against the official TotalSegmentator 2.18.0: same inputs, same seeded weights.

Usage::

    python benchmarks/statistics_parity.py             # all cases, results into docs/benchmarks.md
    python benchmarks/statistics_parity.py --cases ct-fast-oblique --no-write

Both tools run ``--statistics`` (with ``--fast`` the official tool computes it on the 3 mm model
grid, otherwise on the input image) and the two ``statistics.json`` files are compared byte for
byte, then value by value. The official tool runs in its own venv (created on first use under
``.bench/``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from harness import (
    BENCH_DIR,
    ROOT,
    machine,
    official_venv,
    offline_env,
    seeded_weights,
    segment_commands,
    timed_run,
    write_section,
)

SHARED_CT = ROOT.parent / "shared" / "data" / "ct_small_3mm.nii.gz"


@dataclass(frozen=True)
class Case:
    name: str
    oblique: bool
    args: tuple[str, ...]
    models: tuple[int, ...]
    what: str


CASES = [
    Case("ct-fast", False, ("--fast", "--statistics"), (297,), "`--fast --statistics`, 3 mm RAS input"),
    Case("ct-fast-oblique", True, ("--fast", "--statistics"), (297,),
         "`--fast --statistics`, oblique LPS 2.6x3.4x2.5 mm input (statistics on the 3 mm model grid)"),
    Case("ct-fast-oblique-ml-sii", True, ("--fast", "--ml", "--statistics", "-sii"), (297,),
         "`--fast --ml --statistics -sii`, oblique input (file beside the multilabel file)"),
    Case("ct-fast-roi", False, ("--fast", "--statistics", "-sii", "-rs", "liver", "spleen", "aorta", "vertebrae_L1"),
         (298, 297), "`--fast --statistics -sii -rs liver spleen aorta vertebrae_L1` (cropped model grid)"),
    Case("ct-fastest-median-extra", False, ("--fastest", "--statistics", "-sa", "median", "-sx"), (298,),
         "`--fastest --statistics -sa median -sx` (input grid, official extra keys)"),
]


def oblique_input() -> Path:
    """The shared CT stored LPS, axes permuted, anisotropic and rotated 12 degrees about z."""
    img = nib.load(SHARED_CT)
    data = np.asanyarray(img.dataobj)[::-1, ::-1].transpose(1, 0, 2)
    angle = np.deg2rad(12)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.array([[0, -1, 0], [-1, 0, 0], [0, 0, 1]]) @ np.diag([2.6, 3.4, 2.5])
    affine[:3, 3] = [120.0, 95.0, -40.0]
    path = BENCH_DIR / "inputs" / "ct_oblique_lps.nii.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), affine), path)
    return path


def run_case(case: Case, official_bin: Path, workdir: Path, *, reuse: bool = False) -> dict:
    env = offline_env(seeded_weights(list(case.models)))
    image = oblique_input() if case.oblique else SHARED_CT
    ml = "--ml" in case.args
    texts = {}
    for tool, cmd in segment_commands(official_bin):
        folder = workdir / case.name / tool
        if reuse and (folder / "statistics.json").is_file():
            texts[tool] = (folder / "statistics.json").read_text()
            continue
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        out = folder / "seg.nii.gz" if ml else folder
        result = timed_run([*cmd, "-i", str(image), "-o", str(out), "-d", "cpu", *case.args], env)
        if result.returncode != 0:
            raise SystemExit(f"{tool} failed on {case.name}:\n{result.output[-3000:]}")
        texts[tool] = (folder / "statistics.json").read_text()
    return compare(texts["official"], texts["ours"])


def compare(official_text: str, ours_text: str) -> dict:
    """Byte equality of the files with our additional ``-sx`` keys (which come last) left out."""
    official, ours = json.loads(official_text), json.loads(ours_text)
    same_keys = list(official) == list(ours) and all(list(ours[k])[: len(v)] == list(v) for k, v in official.items())
    diffs = [abs(ours[k][m] - v) for k, entry in official.items() for m, v in entry.items()
             if isinstance(v, float) and k in ours and m in ours[k]]
    restricted = {k: {m: ours[k][m] for m in entry if m in ours.get(k, {})} for k, entry in official.items()}
    added = sorted({m for k, entry in ours.items() for m in entry if m not in official.get(k, {})})
    return {"identical": official_text == json.dumps(restricted, indent=4), "same_keys": same_keys,
            "classes": len(official), "measured": sum(v["volume"] > 0 for v in official.values()),
            "max_abs_diff": max(diffs, default=0.0), "added": added}


def markdown(rows: list[tuple[Case, dict]]) -> str:
    lines = [
        "## statistics.json against the official tool",
        "",
        "`python benchmarks/statistics_parity.py`: `statistics.json` of totalseg and of TotalSegmentator 2.18.0 "
        f"from the same inputs and the same full-size seeded random weights, CPU. Machine: {machine()}.",
        "",
        "| case | classes (measured) | byte-identical | same keys and order | max abs difference | our added keys |",
        "|---|---|---|---|---|---|",
    ]
    for case, r in rows:
        lines.append(f"| {case.what} | {r['classes']} ({r['measured']}) | {'yes' if r['identical'] else 'NO'} | "
                     f"{'yes' if r['same_keys'] else 'NO'} | {r['max_abs_diff']:g} | "
                     f"{', '.join(r['added']) or '-'} |")
    lines += ["", "Byte-identical means the official file and ours with our additional `-sx` keys left out "
              "(they follow the official ones in each entry). Structures within 3 voxels of the border are "
              "not measured without `-sii`, hence the few measured classes of the random-weight masks."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES], help="default: all")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md")
    parser.add_argument("--reuse", action="store_true", help="compare the outputs of the last run again")
    args = parser.parse_args()
    official_bin = official_venv()
    rows = []
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        print(f"{case.name} ...", file=sys.stderr, flush=True)
        report = run_case(case, official_bin, BENCH_DIR / "statistics", reuse=args.reuse)
        print(f"  {report}", file=sys.stderr, flush=True)
        rows.append((case, report))
    table = markdown(rows)
    print(table)
    if not args.no_write and not args.cases:
        write_section("statistics-parity", table)


if __name__ == "__main__":
    main()
