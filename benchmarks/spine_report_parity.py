"""``totalseg report spine`` side by side with the official ``totalseg_spine_report`` (2.18.0).

    python benchmarks/spine_report_parity.py

Three comparisons, written to the "Spine report against the official tool" section of
docs/benchmarks.md:

1. the golden phantom cases (tests/data/spine_report_golden, made by spine_report_golden.py):
   the official JSON against ours from the same CT and masks;
2. end to end with seeded random weights: both commands segment vertebrae_pp_refined (models 305,
   803) and predict the contrast phase (total --fast, model 297; head-neck models if a brain shows)
   from the phantom CT themselves;
3. the phantom's masks in the intermediate folder, the seeded networks only for what is missing (the
   contrast phase): random networks draw no vertebral bodies, so this is the case with measurements.

The official command runs offline from the same seeded weights; its one replaced call is
``imgkit.from_string`` (the wkhtmltoimage program that renders its front page is not installed), which
writes a blank PNG: only its RGB NIfTI depends on it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BENCH_DIR, ROOT, machine, official_venv, offline_env, seeded_weights, timed_run, write_section  # noqa: E402
from spine_report_golden import OUT as GOLDEN  # noqa: E402
from spine_report_golden import SPACING, phantom  # noqa: E402

SECTION = "spine-report"
MODELS = [297, 298, 305, 776, 803]  # vertebrae_pp_refined, total --fast, headneck_bones_vessels (phase)
# The official vertebrae_pp post-processing fails (IndexError) when exactly one component is kept, as
# with random networks: scipy's center_of_mass already returns a list of one centre, which it wraps
# once more. The wrapped TotalSegmentator mends that one call (the centre list is returned unwrapped
# for a one-element index, so the official wrap makes it right); everything else is the official code.
OFFICIAL_SEGMENT_MEND = (
    "import sys, scipy.ndimage\n"
    "import totalsegmentator.postprocessing as pp\n"
    "class _Ndimage:\n"
    "    def __getattr__(self, name):\n"
    "        return getattr(scipy.ndimage, name)\n"
    "    def center_of_mass(self, inp, labels=None, index=None):\n"
    "        res = scipy.ndimage.center_of_mass(inp, labels, index)\n"
    "        return res[0] if isinstance(res, list) and len(res) == 1 else res\n"
    "pp.ndimage = _Ndimage()\n"
    "if __name__ == '__main__':  # nnU-Net's workers re-import this script\n"
    "    from totalsegmentator.bin.TotalSegmentator import main\n"
    "    sys.exit(main())\n"
)
OFFICIAL_LAUNCHER = (
    "import sys, imgkit\n"
    "from PIL import Image\n"
    "def blank_png(html, output_file, options=None):\n"
    "    Image.new('RGB', (64, 48)).save(output_file, format='PNG')\n"
    "    return True\n"
    "imgkit.from_string = blank_png  # wkhtmltoimage is not installed\n"
    "from totalsegmentator.bin.totalseg_spine_report import main\n"
    "sys.argv = ['totalseg_spine_report', *sys.argv[1:]]\n"
    "main()\n"
)


def compare(official: dict, ours: dict) -> dict:
    """Key sets and order, equal values, largest height difference (mm) of two result dicts."""
    heights = [abs(ours[k] - v) for k, v in official.items() if k.endswith("_mm") and k in ours]
    return {"same_keys": list(official) == list(ours), "identical": official == ours,
            "vertebrae": sum(k.endswith("_height_difference") for k in official),
            "max_height_diff_mm": max(heights, default=0.0)}


def golden_rows() -> list[str]:
    from totalseg.reports.spine.report import create_spine_report

    rows = []
    for case in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        args = json.loads((case / "args.json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            seg = Path(tmp) / "seg"
            seg.mkdir()
            shutil.copy(case / "vertebrae.nii.gz", seg / "totalseg_vertebrae_pp_refined.nii.gz")
            shutil.copy(case / "contrast_phase.json", seg)
            nodeinfo = case / "nodeinfo.json"
            report = create_spine_report(case / "ct.nii.gz", Path(tmp) / "out", seg_dir=seg,
                                         spine_range=args[1] if args else "all",
                                         nodeinfo=nodeinfo if nodeinfo.exists() else None).report
        official = json.loads((case / "spine_report.json").read_text())
        c = compare(official["results"], report["results"])
        same = c["identical"] and official["metadata"] == report["metadata"]
        rows.append(f"| {case.name} | {' '.join(args) or '-'} | {c['vertebrae']} | {_yes(c['same_keys'])} | "
                    f"{c['max_height_diff_mm']:.2f} | {_yes(same)} |")
    return rows


def phantom_ct(folder: Path) -> Path:
    ct, labels, label_map = phantom()
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-24.0, -30.0, -100.0)
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(ct, affine), folder / "ct.nii.gz")
    return folder / "ct.nii.gz"


def phantom_masks(path: Path) -> None:
    """The phantom's vertebrae, with its label map in the header extension (as an --ml file)."""
    from totalseg.io.nifti_ext import add_label_map_to_nifti

    ct, labels, label_map = phantom()
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-24.0, -30.0, -100.0)
    nib.save(add_label_map_to_nifti(nib.Nifti1Image(labels, affine), label_map), path)


def mended_bin(official_bin: Path, folder: Path) -> Path:
    """A folder with a ``TotalSegmentator`` that runs the official one with its one-component mend."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "TotalSegmentator"
    exe.write_text(f"#!{official_bin / 'python'}\n{OFFICIAL_SEGMENT_MEND}")
    exe.chmod(0o755)
    return folder


def run_pair(ct: Path, work: Path, env: dict, official_bin: Path, phase_from: Path | None = None) -> dict:
    """Both commands on ``ct``, each with its own intermediate folder: empty (end to end), or with the
    phantom's masks and the contrast phase that tool's seeded networks gave in ``phase_from``."""
    result = {}
    for tool in ("official", "ours"):
        seg, out = work / tool / "seg", work / tool / "out"
        shutil.rmtree(work / tool, ignore_errors=True)
        seg.mkdir(parents=True)
        if phase_from is not None:
            phantom_masks(seg / "totalseg_vertebrae_pp_refined.nii.gz")
            shutil.copy(phase_from / tool / "seg" / "contrast_phase.json", seg)
        if tool == "official":
            cmd = [str(official_bin / "python"), "-c", OFFICIAL_LAUNCHER, "-i", str(ct),
                   "-o", str(out / "report.nii.gz"), "-j", str(out / "spine_report.json"),
                   "-l", str(out / "log.txt"), "-tmp", str(seg)]
            out.mkdir(parents=True)
            mend = mended_bin(official_bin, work.parent / "official-bin")
            tool_env = {**env, "PATH": f"{mend}:{official_bin}:{env['PATH']}"}
        else:
            cmd = [str(Path(sys.executable).parent / "totalseg"), "report", "spine", "-i", str(ct), "-o", str(out),
                   "--seg-dir", str(seg), "-d", "cpu", "--no-download", "-q"]
            tool_env = env
        run = timed_run(cmd, tool_env, poll_s=None)
        if run.returncode != 0:
            raise SystemExit(f"{tool} failed:\n{run.output[-3000:]}")
        result[tool] = {"json": json.loads((out / "spine_report.json").read_text()), "wall_s": run.wall_s,
                        "phase": json.loads((seg / "contrast_phase.json").read_text()),
                        "masks": np.asarray(nib.load(seg / "totalseg_vertebrae_pp_refined.nii.gz").dataobj)}
    return result


def seeded_rows(official_bin: Path) -> list[str]:
    weights = seeded_weights(MODELS)
    classifiers = weights / "classifiers"
    classifiers.mkdir(exist_ok=True)
    for f in (ROOT / "tests" / "data" / "phase_golden").glob("contrast_phase_classifiers_*.pkl"):
        shutil.copy(f, classifiers / f.name)
    env = offline_env(weights)
    work = BENCH_DIR / "spine-report"
    ct = phantom_ct(work / "input")
    rows = []
    for label, phase_from in (("end to end: seeded nets segment and predict the phase", None),
                              ("phantom masks given; phase from the seeded nets' run above", work / "e2e")):
        pair = run_pair(ct, work / ("masks" if phase_from else "e2e"), env, official_bin, phase_from)
        off, ours = pair["official"], pair["ours"]
        c = compare(off["json"]["results"], ours["json"]["results"])
        labels = sorted(int(v) for v in np.unique(off["masks"]) if v)
        rows.append(f"| {label} | {len(labels)} | {_yes(np.array_equal(off['masks'], ours['masks']))} | "
                    f"{off['phase']['phase']}, {_yes(off['phase'] == ours['phase'])} | {c['vertebrae']} | "
                    f"{_yes(c['same_keys'])} | "
                    f"{c['max_height_diff_mm']:.2f} | {_yes(c['identical'])} | "
                    f"{off['wall_s']:.0f} / {ours['wall_s']:.0f} |")
        print(rows[-1], flush=True)
    return rows


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def main() -> None:
    official_bin = official_venv()
    golden = golden_rows()
    seeded = seeded_rows(official_bin)
    markdown = "\n".join([
        "## Spine report against the official tool",
        "",
        "`totalseg report spine` against TotalSegmentator 2.18.0's `totalseg_spine_report`, same CT, same masks "
        "(`python benchmarks/spine_report_golden.py` with the official venv for the goldens, then "
        "`python benchmarks/spine_report_parity.py`). The official JSON's `results` and `metadata` are compared "
        "key for key; our Genant grades sit under a separate key and are not part of the comparison.",
        "",
        "Phantom goldens (a column of elliptic vertebral bodies with a cortical shell, 1.2 x 0.9 x 1.5 mm; L2 "
        "a wedge, 25.5 mm posterior and 15 mm at its anterior edge; L4 of low density; T12 cut by the top of "
        "the image; S1 below L5), official JSON written by the official command with the masks in its "
        "intermediate folder:",
        "",
        "| case | options | vertebrae measured | same keys, same order | max height difference (mm) | "
        "identical JSON (results and metadata) |",
        "|---|---|---|---|---|---|",
        *golden,
        "",
        "Seeded random weights (full-size networks, the same files for both tools), the phantom CT:",
        "",
        "| run | labels in the official masks | masks identical | phase, phase JSON identical | vertebrae measured | "
        "same keys | max height difference (mm) | identical results | seconds official / ours |",
        "|---|---|---|---|---|---|---|---|---|",
        *seeded,
        "",
        "Random networks draw no vertebral bodies: end to end, both label one blob (vertebrae_L5) that touches "
        "the image border, so neither measures a vertebra (ours says why, under `totalseg_additions`); that "
        "run compares the flow (which files are computed, masks, phase, JSON). The official vertebrae_pp "
        "post-processing raises IndexError on exactly one kept component (a double-wrapped centre list); "
        "the benchmark mends that one scipy call in the official run, as our engine numbers the component. "
        "The second run gives the phantom's masks and, for what is then missing (the contrast phase), each "
        "tool's own seeded-network phase from the first run: it compares the measurements. The official "
        "front page is an HTML page rendered by wkhtmltoimage (not installed here; its call is replaced by a "
        "blank PNG in both benchmarks), so its RGB NIfTI is not compared; the NIfTI layout is, in "
        "tests/reports/test_spine_golden.py.",
        "",
        f"Machine: {machine()}.",
    ])
    write_section(SECTION, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
