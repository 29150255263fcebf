"""Detection and false-alarm rates of the segmentation QC (``totalseg qc``, docs/qc.md).

Usage::

    python benchmarks/qc.py                  # 100 clean phantoms, each with every fault injected
    python benchmarks/qc.py --cases 20       # quicker
    python benchmarks/qc.py --write-docs     # also rewrite the "qc" section of docs/benchmarks.md

Clean cases are trunk phantoms with the ``total`` labels laid out as in an adult, in world
coordinates (``totalseg.qc.phantom``: random sizes, levels, body shape, 3.5-5 mm voxels, native or
contrast CT, random storage orientation). Each clean case gets every fault of
``totalseg.qc.faults.FAULTS`` injected once (swapped and mirrored sides, shifted vertebra labels,
images stored flipped, cropped field of view, added fragments, scaled and removed organs, blank
images, padding). A check's detection rate counts the faulted cases of the faults aimed at it in
which it says warn or fail; its false-alarm rate counts the clean cases in which it does. Two more
sources are reported apart: the mock dataset's masks (random ellipsoids at random places, which
are not anatomy and should be flagged) and the shared real CT ``tests/data/ct_small_3mm.nii.gz``
with a threshold segmentation of its spine and lung bases.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine, write_section  # noqa: E402

from totalseg.qc import CHECK_NAMES, run_qc  # noqa: E402
from totalseg.qc.faults import BLIND_SPOTS, FAULTS  # noqa: E402
from totalseg.qc.phantom import make_trunk_phantom  # noqa: E402

TARGET_DETECTION, TARGET_FALSE_ALARM = 0.95, 0.02


def fired(report) -> set[str]:
    return {c.name for c in report.checks if c.status != "ok"}


def run_phantoms(n_cases: int) -> tuple[Counter, dict[str, Counter], Counter]:
    """Clean alarms per check, per fault the cases in which each check fired, and cases per fault."""
    clean_alarms: Counter = Counter()
    by_fault: dict[str, Counter] = defaultdict(Counter)
    counts: Counter = Counter()
    for seed in range(n_cases):
        image, labels, classes = make_trunk_phantom(np.random.default_rng(seed))
        clean_alarms.update(fired(run_qc(image, labels, classes)))
        for i, (name, (fault, _)) in enumerate({**FAULTS, **BLIND_SPOTS}.items()):
            f_image, f_labels = fault(image, labels, classes, np.random.default_rng([seed, i]))
            by_fault[name].update(fired(run_qc(f_image, f_labels, classes)))
            counts[name] += 1
    return clean_alarms, by_fault, counts


def run_mock(n_subjects: int) -> tuple[Counter, int]:
    """Checks that fire on the mock dataset's random-layout masks, per check."""
    from totalseg.dataset.synthetic import write_mock_dataset
    from totalseg.qc.files import qc_files

    alarms: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_mock_dataset(Path(tmp), n_subjects=n_subjects, shape=(96, 80, 120), spacing_mm=3.0, seed=0)
        for subject in sorted(p for p in root.iterdir() if p.is_dir()):
            alarms.update(fired(qc_files(subject / "ct.nii.gz", subject / "segmentations", task="total")))
    return alarms, n_subjects


def shared_ct_report():
    """The shared CT with a threshold segmentation: vertebral column split in three levels (T12,
    L1, L2 by height) and the lung bases (air inside the body, left and right of the spine)."""
    from scipy import ndimage

    from totalseg.anatomy.class_maps import class_map
    from totalseg.imaging.volume import LabelVolume
    from totalseg.io import read_volume

    image = read_volume(ROOT / "tests" / "data" / "ct_small_3mm.nii.gz")
    ct = np.asarray(image.array, np.float32)
    classes = class_map("total")
    ids = {v: k for k, v in classes.items()}
    labels = np.zeros(ct.shape, np.uint8)
    body = ndimage.binary_fill_holes(ct > -500, structure=np.ones((3, 3, 1)))
    bone = (ct > 200) & body
    x_mid = int(np.median(np.nonzero(bone)[0]))
    column = np.zeros(ct.shape, bool)
    column[x_mid - 12:x_mid + 12, :, :] = True  # +-36 mm of a 3 mm grid
    comps, _ = ndimage.label(bone & column)
    spine = comps == np.argmax(np.bincount(comps.ravel())[1:]) + 1
    thirds = np.array_split(np.arange(ct.shape[2]), 3)
    for level, zs in zip(("vertebrae_L2", "vertebrae_L1", "vertebrae_T12"), thirds):
        part = np.zeros(ct.shape, bool)
        part[:, :, zs] = spine[:, :, zs]
        labels[part] = ids[level]
    comps, n = ndimage.label((ct < -400) & body)
    sizes = np.bincount(comps.ravel())
    for c in range(1, n + 1):
        # lung bases, not bowel gas: over 20 ml and reaching the top slice (RAS: the last)
        if sizes[c] * 27 / 1000 < 20 or not (comps[:, :, -1] == c).any():
            continue
        x = np.nonzero(comps == c)[0].mean()
        labels[comps == c] = ids["lung_lower_lobe_left" if x > x_mid else "lung_lower_lobe_right"]
    return run_qc(image, LabelVolume(labels, affine=image.affine), classes)


def markdown(clean: Counter, by_fault: dict[str, Counter], counts: Counter, n_cases: int,
             mock: tuple[Counter, int], shared, seconds: float) -> str:
    lines = ["## Segmentation QC: detection and false alarms", "",
             f"`totalseg qc` (docs/qc.md): {n_cases} clean trunk phantoms, each also with every "
             f"fault injected once; {seconds:.0f} s on {machine()}. Detection: share of the faulted cases aimed at a "
             "check in which it says warn or fail; false alarms: share of the clean cases in which it does. Target "
             f">= {TARGET_DETECTION:.0%} detection, <= {TARGET_FALSE_ALARM:.0%} false alarms. "
             "`python benchmarks/qc.py --write-docs`", "",
             "| check | faults aimed at it | detected | false alarms (clean) | target met |", "|---|---|---|---|---|"]
    for check in CHECK_NAMES:
        faults = [f for f, (_, target) in FAULTS.items() if target == check]
        hit = sum(by_fault[f][check] for f in faults)
        total = sum(counts[f] for f in faults)
        det, fa = hit / total, clean[check] / n_cases
        met = "yes" if det >= TARGET_DETECTION and fa <= TARGET_FALSE_ALARM else "no"
        lines.append(f"| {check} | {', '.join(faults)} | {hit}/{total} ({det:.0%}) | {clean[check]}/{n_cases} "
                     f"({fa:.0%}) | {met} |")
    lines += ["", "Every check that fires per fault (share of the faulted cases; the aimed check in bold):", "",
              "| fault | " + " | ".join(CHECK_NAMES) + " |", "|---|" + "---|" * len(CHECK_NAMES)]
    for fault, (_, target) in {**FAULTS, **BLIND_SPOTS}.items():
        cells = [f"{by_fault[fault][c] / counts[fault]:.0%}" for c in CHECK_NAMES]
        cells = [f"**{v}**" if c == target else v for c, v in zip(CHECK_NAMES, cells)]
        extra = " (blind spot, not counted)" if fault in BLIND_SPOTS else ""
        lines.append(f"| {fault}{extra} | " + " | ".join(cells) + " |")
    alarms, n_mock = mock
    lines += ["", f"Mock dataset masks (`totalseg.dataset.synthetic`, {n_mock} subjects; random ellipsoids at random "
              "places, not anatomy, so flags are expected): share of subjects flagged per check: "
              + ", ".join(f"{c} {alarms[c] / n_mock:.0%}" for c in CHECK_NAMES) + ".", "",
              "Shared real CT (`tests/data/ct_small_3mm.nii.gz`, 90 mm of upper abdomen, threshold segmentation of "
              "its spine in three levels and its lung bases): "
              + ", ".join(f"{c.name} {c.status}" for c in shared.checks)
              + f" (field_of_view: {len(shared.check('field_of_view').evidence['cut_off'])} structures cut by the "
              "90 mm slab, as they are)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100, help="clean phantoms (default 100)")
    parser.add_argument("--mock-subjects", type=int, default=10, help="mock dataset subjects (default 10)")
    parser.add_argument("--write-docs", action="store_true", help="rewrite the qc section of docs/benchmarks.md")
    args = parser.parse_args()
    start = time.perf_counter()
    clean, by_fault, counts = run_phantoms(args.cases)
    mock = run_mock(args.mock_subjects)
    shared = shared_ct_report()
    text = markdown(clean, by_fault, counts, args.cases, mock, shared, time.perf_counter() - start)
    print(text)
    if args.write_docs:
        write_section("qc", text)


if __name__ == "__main__":
    main()
