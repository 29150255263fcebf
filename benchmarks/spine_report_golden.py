"""Golden data for ``totalseg report spine``, written by the official ``totalseg_spine_report``.

Run with the official tool's Python (TotalSegmentator 2.18.0)::

    .bench/official-venv/bin/python benchmarks/spine_report_golden.py

It builds phantom CTs with known vertebral heights (a column of elliptic vertebral bodies with a
cortical shell; L2 a wedge whose anterior edge is 41 % lower than its posterior one, L4 of low density;
T12 cut by the top of the image; S1 below L5), puts the masks the official command would otherwise segment
(``totalseg_vertebrae_pp_refined.nii.gz``, with its label extension) and ``contrast_phase.json`` into
the official command's temporary folder, so it runs no model, and runs its ``main()``. It writes
``tests/data/spine_report_golden/<case>/``: ``ct.nii.gz``, ``vertebrae.nii.gz``,
``contrast_phase.json``, ``nodeinfo.json`` (where the case has one), ``args.json`` (the official
options) and ``spine_report.json`` (the official JSON). Plus ``rgb_nifti.npz``: a small PNG and the
RGB NIfTI the official ``combine_rgb_slices_as_nifti`` makes of it.

One call is replaced: ``imgkit.from_string``, which renders the front page HTML to PNG with the
``wkhtmltoimage`` program (not installed here); it writes a blank PNG instead. Only the official
RGB NIfTI (a picture of that page) depends on it, not the JSON. Usage statistics are off through
the configuration in ``TOTALSEG_HOME_DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "spine_report_golden"
SHAPE = (40, 72, 132)  # RAS voxels: left-right, posterior-anterior, inferior-superior
SPACING = (1.2, 0.9, 1.5)
BODY_SLICES = 17  # 25.5 mm at 1.5 mm
DISC_SLICES = 4
WEDGE_ANTERIOR_SLICES = 10  # L2: 15.0 mm at its anterior edge against 25.5 mm posterior (41 % loss there)
# top to bottom: name, label of vertebrae_pp_refined (S1 is a label of the official total task only;
# the phantom gives it id 26 in its own label map), anterior height in slices, cancellous HU
COLUMN = (("vertebrae_T12", 19, BODY_SLICES, 190), ("vertebrae_L1", 20, BODY_SLICES, 180),
          ("vertebrae_L2", 21, WEDGE_ANTERIOR_SLICES, 170), ("vertebrae_L3", 22, BODY_SLICES, 160),
          ("vertebrae_L4", 23, BODY_SLICES, 70), ("vertebrae_L5", 24, BODY_SLICES, 150),
          ("vertebrae_S1", 26, BODY_SLICES, 200))
FIRST_TOP_Z = SHAPE[2] + 6  # T12's top lies above the image: cut off by the field of view


def phantom(*, curve_voxels: float = 3.0) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """CT (int16 HU), labels (uint8) and the label map of the phantom column (RAS voxel order).

    Each body is an elliptic cylinder (semi-axes 12 x 16 voxels = 14.4 x 14.4 mm) whose top endplate
    falls linearly from the posterior height to the anterior height; the column's centre moves
    ``curve_voxels`` anteriorly over its length (a gentle curve).
    """
    x, y, z = np.ogrid[:SHAPE[0], :SHAPE[1], :SHAPE[2]]
    ct = np.full(SHAPE, 40, np.int16)  # soft tissue
    labels = np.zeros(SHAPE, np.uint8)
    label_map = {}
    top = FIRST_TOP_Z
    for k, (name, label, anterior, hu) in enumerate(COLUMN):
        bottom = top - BODY_SLICES
        yc = 34 + curve_voxels * k / (len(COLUMN) - 1)
        depth = (y - (yc - 16)) / 32.0  # 0 posterior .. 1 anterior
        height = BODY_SLICES + (anterior - BODY_SLICES) * np.clip(depth, 0, 1)
        inside = ((x - 19.5) / 12) ** 2 + ((y - yc) / 16) ** 2 <= 1
        body = inside & (z >= bottom) & (z < bottom + height)
        shell = body & ~(((x - 19.5) / 10.5) ** 2 + ((y - yc) / 14) ** 2 <= 1)
        ct[body] = hu
        ct[shell | (body & ((z < bottom + 2) | (z >= bottom + height - 2)))] = 500
        labels[body] = label
        label_map[label] = name
        top = bottom - DISC_SLICES
    noise = np.random.default_rng(0).integers(-3, 4, SHAPE, dtype=np.int16)
    return ct + noise, labels, dict(sorted(label_map.items()))


def lps_copy(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same image stored in L, P, S order with the axes permuted to (z, x, y)."""
    flipped = array[::-1, ::-1, :]
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[0, 3], flip[1, 3] = array.shape[0] - 1, array.shape[1] - 1
    affine = affine @ flip
    perm = (2, 0, 1)
    moved = np.transpose(flipped, perm)
    new_affine = affine.copy()
    new_affine[:, :3] = affine[:, list(perm)]
    return np.ascontiguousarray(moved), new_affine


CASES = {
    # name: (orientation, options, contrast phase, nodeinfo, empty labels, column curve in voxels)
    "ras": ("ras", [], "native", None, False, 3.0),
    "lps_arterial": ("lps", [], "arterial", {"PatientSex": "F", "PatientBirthDate": "19500301",
                                             "StudyDate": "20240115", "StudyDescription": "CT abdomen"}, False, 3.0),
    "ras_lumbar": ("ras", ["-sr", "lumbar"], "portal_venous", None, False, 3.0),
    "curved": ("ras", [], "native", {"PatientAge": "071Y", "PatientSex": "F"}, False, 16.0),
    "empty": ("ras", [], "native", None, True, 3.0),
}


def write_inputs(case_dir: Path, orientation: str, phase: str, nodeinfo: dict | None, empty: bool,
                 curve: float) -> None:
    from totalsegmentator.nifti_ext_header import add_label_map_to_nifti

    ct, labels, label_map = phantom(curve_voxels=curve)
    if empty:
        labels[:] = 0
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = (-24.0, -30.0, -100.0)
    if orientation == "lps":
        (ct, _), (labels, affine) = lps_copy(ct, affine), lps_copy(labels, affine)
    case_dir.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(ct, affine), case_dir / "ct.nii.gz")
    seg = nib.Nifti1Image(labels, affine)
    nib.save(add_label_map_to_nifti(seg, label_map), case_dir / "vertebrae.nii.gz")
    (case_dir / "contrast_phase.json").write_text(json.dumps({"phase": phase, "pi_time": 0.0}, indent=4))
    if nodeinfo is not None:
        (case_dir / "nodeinfo.json").write_text(json.dumps(nodeinfo, indent=4))


def run_official(case_dir: Path, options: list[str]) -> None:
    """The official ``main()`` with the inputs in its temporary folder (no model runs)."""
    import imgkit
    from PIL import Image
    from totalsegmentator.bin import totalseg_spine_report as official

    def blank_png(html, output_file, options=None):  # wkhtmltoimage is not installed
        Image.new("RGB", (64, 48)).save(output_file, format="PNG")
        return True

    imgkit.from_string = blank_png
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        shutil.copy(case_dir / "vertebrae.nii.gz", work / "totalseg_vertebrae_pp_refined.nii.gz")
        shutil.copy(case_dir / "contrast_phase.json", work / "contrast_phase.json")
        argv = ["totalseg_spine_report", "-i", str(case_dir / "ct.nii.gz"), "-o", str(tmp / "report.nii.gz"),
                "-j", str(tmp / "report.json"), "-l", str(tmp / "log.txt"), "-tmp", str(work), *options]
        if (case_dir / "nodeinfo.json").exists():
            argv += ["-n", str(case_dir / "nodeinfo.json")]
        sys.argv = argv
        official.main()
        shutil.copy(tmp / "report.json", case_dir / "spine_report.json")
    (case_dir / "args.json").write_text(json.dumps(options))


def rgb_golden() -> None:
    """The official PNG -> RGB NIfTI layout on a small non-square picture."""
    from PIL import Image
    from totalsegmentator.reporting import combine_rgb_slices_as_nifti

    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)  # rows (height) x columns (width)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "page.png"
        Image.fromarray(picture).save(png)
        img = combine_rgb_slices_as_nifti([png])
    data = np.asarray(img.dataobj)
    rgb = np.stack([data["R"], data["G"], data["B"]], axis=-1)
    np.savez_compressed(OUT / "rgb_nifti.npz", picture=picture, rgb=rgb, affine=img.affine)


def main() -> None:
    home = Path(tempfile.mkdtemp())
    (home / "config.json").write_text(json.dumps({"send_usage_stats": False, "statistics_disclaimer_shown": True,
                                                  "prediction_counter": 0}))
    os.environ["TOTALSEG_HOME_DIR"] = str(home)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (orientation, options, phase, nodeinfo, empty, curve) in CASES.items():
        case_dir = OUT / name
        shutil.rmtree(case_dir, ignore_errors=True)
        write_inputs(case_dir, orientation, phase, nodeinfo, empty, curve)
        run_official(case_dir, options)
        print(f"{name}: {json.loads((case_dir / 'spine_report.json').read_text())['results']}")
    rgb_golden()


if __name__ == "__main__":
    main()
