"""Golden data for ``totalseg report pulmonary``, computed by the official ``totalseg_pulmonary_report``.

Run with the official tool's Python (TotalSegmentator 2.18.0; ``benchmarks/harness.py``
``official_venv()`` creates ``.bench/official-venv``)::

    .bench/official-venv/bin/python benchmarks/pulmonary_report_golden.py

It builds hand-made pulmonary artery phantoms with known diameters (a main pulmonary artery, MPA,
leaning back and to the left, that splits into the left and right pulmonary arteries) and writes,
for each case, ``tests/data/pulmonary_report_golden/<case>/``:

- ``ct.nii.gz``: a noise-free CT (HU; lumen 300, surroundings -100);
- ``models/``: the masks in the layout of the official report's intermediate ``models/`` folder:
  ``pulmonary_artery.nii.gz`` (of ``heartchambers_highres``) and the five ``pul_*.nii.gz`` landmark
  masks of ``pulmonary_artery_landmarks`` (3 mm thick discs across the vessel at each landmark);
- ``official.json``: the report JSON the official pipeline (``create_pulmonary_report``) returned,
  as its command writes it.

The official pipeline runs unchanged from these masks (given as its ``--rois_totalseg`` and
``--rois_details`` folders, so no model runs). Only the picture steps are replaced by no-ops:
``plot_pulmonary_seg`` (a 3-D render through ``fury``/``vtk`` under an X virtual frame buffer,
``xvfbwrapper``), ``render_report_image`` (an HTML-to-PNG page through ``wkhtmltoimage``) and
``serialize_outputs`` (packs those pictures); none of them changes the JSON.

Cases:

- ``full``: every mask, CT and masks on a 1.5 mm RAS grid;
- ``lps_aniso``: the same anatomy on a 0.9 x 1.2 x 2.0 mm LPS grid (reorientation and resampling);
- ``cut_off``: the field of view ends 6 mm above the sinotubular junction: the bifurcation and the
  branches are outside the image, so their landmark masks are empty;
- ``empty_branch``: every mask, but the left PA landmark is empty and the right PA landmark lies
  above the artery, so that the plane through it misses the artery; 1.5 mm grid. The official JSON
  then holds that landmark's plane, an all-zero array of the report grid, under ``roi``; this script
  keeps its sum (``roi_sum``) instead of the array, which would take megabytes.

Design diameters (mm): MPA 26 (proximal MPA, sinotubular junction, bifurcation), left PA 20,
right PA 22.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import types
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "pulmonary_report_golden"
CASES = ("full", "lps_aniso", "cut_off", "empty_branch")
EXTENT_MM = np.array([120.0, 105.0, 100.0])  # world box x, y, z from 0 (RAS mm)
ANNULUS = np.array([62.0, 35.0, 22.0])       # start of the MPA
BIFURCATION = np.array([58.0, 62.0, 66.0])
LEFT_END = np.array([100.0, 72.0, 72.0])
RIGHT_END = np.array([16.0, 66.0, 70.0])
RADIUS_MM = {"mpa": 13.0, "left": 10.0, "right": 11.0}
DISC_HALF_MM = 1.5


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _capsule(world: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Voxels within ``radius`` of the segment a-b (world (..., 3) mm)."""
    ab = b - a
    t = np.clip(((world - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(world - (a + t[..., None] * ab), axis=-1) <= radius


def _disc(world: np.ndarray, centre: np.ndarray, normal: np.ndarray, radius: float) -> np.ndarray:
    d = world - centre
    along = d @ normal
    across = np.linalg.norm(d - along[..., None] * normal, axis=-1)
    return (np.abs(along) <= DISC_HALF_MM) & (across <= radius)


def _landmarks(world: np.ndarray, case: str) -> dict[str, np.ndarray]:
    mpa = _unit(BIFURCATION - ANNULUS)
    left, right = _unit(LEFT_END - BIFURCATION), _unit(RIGHT_END - BIFURCATION)
    r = RADIUS_MM
    discs = {
        "pul_annulus": _disc(world, ANNULUS + 4 * mpa, mpa, r["mpa"]),
        "pul_sinotubular_junction": _disc(world, ANNULUS + 18 * mpa, mpa, r["mpa"]),
        "pul_bifurcation": _disc(world, BIFURCATION - 12 * mpa, mpa, r["mpa"]),
        "pul_left_start": _disc(world, BIFURCATION + 22 * left, left, r["left"]),
        "pul_right_start": _disc(world, BIFURCATION + 22 * right, right, r["right"]),
    }
    if case == "empty_branch":
        discs["pul_left_start"] = np.zeros_like(discs["pul_left_start"])
        discs["pul_right_start"] = _disc(world, np.array([105.0, 15.0, 92.0]), np.array([0.0, 0, 1]), 5.0)
    return discs


def build_case(case: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The case's affine, CT (int16 HU) and masks (uint8) by file stem."""
    if case == "lps_aniso":
        spacing = np.array([0.9, 1.2, 2.0])
        affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
        affine[:3, 3] = [EXTENT_MM[0], EXTENT_MM[1], 0.0]
    else:
        spacing = np.array([1.5, 1.5, 1.5])
        affine = np.diag([*spacing, 1.0])
    shape = np.round(EXTENT_MM / spacing).astype(int)
    if case == "cut_off":
        shape[2] = int(round((ANNULUS[2] + 18 * _unit(BIFURCATION - ANNULUS)[2] + 6.0) / spacing[2]))
    index = np.indices(tuple(shape), dtype=np.float64).reshape(3, -1)
    world = (affine[:3, :3] @ index + affine[:3, 3:4]).T.reshape(*shape, 3)
    r = RADIUS_MM
    artery = (_capsule(world, ANNULUS, BIFURCATION, r["mpa"]) | _capsule(world, BIFURCATION, LEFT_END, r["left"])
              | _capsule(world, BIFURCATION, RIGHT_END, r["right"]))
    masks = {"pulmonary_artery": artery}
    for name, disc in _landmarks(world, case).items():
        masks[name] = disc & artery if case != "empty_branch" or name != "pul_right_start" else disc
    ct = np.where(artery, 300, -100).astype(np.int16)
    return affine, ct, {name: m.astype(np.uint8) for name, m in masks.items()}


def write_case(case: str, folder: Path) -> None:
    """The case's ``ct.nii.gz`` and ``models/`` masks under ``folder``."""
    affine, ct, masks = build_case(case)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "models").mkdir(parents=True)
    nib.save(nib.Nifti1Image(ct, affine), folder / "ct.nii.gz")
    for name, mask in masks.items():
        nib.save(nib.Nifti1Image(mask, affine), folder / "models" / f"{name}.nii.gz")


def run_official(folder: Path) -> dict:
    """The official report JSON from ``folder``'s CT and masks (pictures skipped, see the module doc)."""
    sys.modules["xvfbwrapper"] = types.SimpleNamespace(Xvfb=_NoDisplay)
    from totalsegmentator.bin.totalseg_pulmonary_report import _load_metadata
    from totalsegmentator.pulmonary_report import pipeline
    from totalsegmentator.serialization_utils import convert_to_serializable

    pipeline.plot_pulmonary_seg = lambda *a, **k: None
    pipeline.render_report_image = lambda *a, **k: None
    pipeline.serialize_outputs = lambda *a, **k: (None, None)
    logger = logging.getLogger("pulmonary_report_golden")
    models = folder / "models"
    with tempfile.TemporaryDirectory() as tmp:
        final = None
        for step in pipeline.create_pulmonary_report(
            folder / "ct.nii.gz", models, models, _load_metadata(None, logger), Path(tmp), logger,
            delete_tmp=False, delete_aux_files=True,
        ):
            final = step
    return convert_to_serializable(final["report_json"])


class _NoDisplay:
    """Stands in for ``xvfbwrapper.Xvfb``: no virtual display is needed once the 3-D render is skipped."""

    def __enter__(self) -> _NoDisplay:
        return self

    def __exit__(self, *exc) -> None:
        return None


def main(cases: list[str]) -> None:
    for case in cases:
        folder = OUT / case
        write_case(case, folder)
        report = run_official(folder)
        for landmark in report["landmarks"].values():
            if "roi" in landmark:
                landmark["roi_sum"] = int(np.sum(landmark.pop("roi")))
        (folder / "official.json").write_text(json.dumps(report, indent=4))
        print(case, {k: (v["diameter"], v["diameter_pd"]) for k, v in report["landmarks"].items()})


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
