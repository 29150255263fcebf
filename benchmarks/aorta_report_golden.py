"""Golden data for ``totalseg report aorta``, computed by the official ``totalseg_aorta_report`` itself.

Run with the official tool's Python (TotalSegmentator 2.18.0; ``benchmarks/harness.py``
``official_venv()`` creates ``.bench/official-venv``)::

    .bench/official-venv/bin/python benchmarks/aorta_report_golden.py

It builds hand-made aorta phantoms with known diameters (a candy-cane tube: descending aorta, arch,
ascending aorta with a sinus bulge and the annulus, branch vessels, a T12 block) and writes, for
each case, ``tests/data/aorta_report_golden/<case>/``:

- ``ct.nii.gz``: a noise-free CT (HU) on a 1.5 mm grid;
- ``models/``: the masks in the layout of the official report's intermediate ``models/`` folder
  (the ``total`` ROIs, ``annulus_proper``/``sinotubular_junction`` of ``aorta_annulus``, the
  ``renal_arteries`` task's vessels, ``aorta_true_lumen``/``aorta_false_lumen`` of
  ``aortic_dissection`` where the case has them, and ``contrast_phase.json``);
- ``official.json``: the report JSON the official pipeline (``create_aorta_report``) wrote;
- ``official_seconds.txt`` (only with ``--out``): how long the official pipeline took;

and ``grid/`` (only for the goldens): an annulus and an aorta mask on different grids and the
official reference grid made from them (``grid.json``).

The official pipeline runs unchanged from these masks (no model runs: the masks are given as its
``--rois_totalseg``/``--rois_details`` folders and the phase file sits where its phase step looks
for it). Only the picture steps are replaced by no-ops: ``render_previews`` (3-D renders through
``fury``/``vtk`` under an X virtual frame buffer), ``render_report_image`` (an HTML-to-PNG page) and
``serialize_outputs`` (packs those pictures); none of them changes the JSON.

Cases:

- ``full``: every mask; no dissection (the true/false lumen masks absent, as when the
  ``aortic_dissection`` model is not run);
- ``dissection``: ``full`` plus a false lumen in the descending aorta (``arterial_late`` phase);
- ``partial``: the brachiocephalic trunk and the celiac trunk empty, so landmarks 4-8 and 10 and
  the arch/descending sections are not measurable;
- ``eroded``: the masks of ``full``, run with the official ``--erosion`` (landmark cuts of the aorta
  eroded once; the annulus cut eroded once);
- ``irregular``: ``full`` with seeded noise on the vessel surfaces, stray blobs beside the aorta,
  stored LPS (the first two array axes reversed).

Design diameters (mm): annulus 24, sinuses of Valsalva 33, ascending aorta 28, descending and
abdominal aorta 22 (the arch tapers from 28 to 22).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "aorta_report_golden"
SPACING_MM = 1.5
SHAPE = (80, 60, 120)  # x (right->left), y (posterior->anterior), z (inferior->superior), RAS
Y0 = 50.0  # the aorta's plane (mm)
ARCH_CENTER = (55.0, 130.0)  # (x, z) mm
ARCH_RADIUS = 25.0
CASES = ("full", "dissection", "partial", "eroded", "irregular")
EROSION_CASES = ("eroded",)  # run with the official --erosion


def _path_points(step_mm: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Centre points (mm) of the aorta from the bifurcation to the annulus and the tube radius at each."""
    cx, cz = ARCH_CENTER
    x_desc, x_asc = cx + ARCH_RADIUS, cx - ARCH_RADIUS
    desc = [(x_desc, Y0, z) for z in np.arange(16.0, cz, step_mm)]
    n_arch = int(np.pi * ARCH_RADIUS / step_mm)
    arch = [(cx + ARCH_RADIUS * np.cos(t), Y0, cz + ARCH_RADIUS * np.sin(t)) for t in np.linspace(0, np.pi, n_arch)]
    asc = [(x_asc, Y0, z) for z in np.arange(cz, 87.9, -step_mm)]
    points = np.array(desc + arch + asc)
    radius = np.empty(len(points))
    radius[: len(desc)] = 11.0
    radius[len(desc): len(desc) + n_arch] = np.linspace(11.0, 14.0, n_arch)
    radius[len(desc) + n_arch:] = [_ascending_radius(z) for z in points[len(desc) + n_arch:, 2]]
    return points, radius


def _ascending_radius(z: float) -> float:
    """Ascending aorta 14 mm, sinus bulge 16.5 mm (z 98-108), annulus 12 mm (below z 94)."""
    return float(np.interp(z, [88, 94, 98, 108, 112, 200], [12, 12, 16.5, 16.5, 14, 14]))


def _grid_mm() -> np.ndarray:
    idx = np.indices(SHAPE, dtype=np.float32)
    return np.stack([(i * SPACING_MM) for i in idx], axis=-1)


def _tube(grid: np.ndarray, points: np.ndarray, radius: np.ndarray | float) -> np.ndarray:
    """Union of balls around ``points`` (mm), as a uint8 mask."""
    radius = np.broadcast_to(np.asarray(radius, dtype=float), (len(points),))
    mask = np.zeros(SHAPE, dtype=bool)
    for p, r in zip(points, radius):
        lo = np.maximum(np.floor((p - r) / SPACING_MM).astype(int), 0)
        hi = np.minimum(np.ceil((p + r) / SPACING_MM).astype(int) + 1, SHAPE)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        mask[box] |= np.sum((grid[box] - p) ** 2, axis=-1) <= r * r
    return mask.astype(np.uint8)


def _segment(a, b, step_mm: float = 0.5) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = max(2, int(np.linalg.norm(b - a) / step_mm))
    return a + np.linspace(0, 1, n)[:, None] * (b - a)


def _arch_point(angle_deg: float) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    return np.array([ARCH_CENTER[0] + ARCH_RADIUS * np.cos(t), Y0, ARCH_CENTER[1] + ARCH_RADIUS * np.sin(t)])


def build_case(case: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The CT (int16 HU) and the masks (uint8) of one case, on the ``SHAPE`` grid."""
    grid = _grid_mm()
    points, radius = _path_points()
    aorta = _tube(grid, points, radius)
    up = np.array([0.0, 0.0, 30.0])
    masks = {
        "aorta": aorta,
        "heart": np.zeros(SHAPE, np.uint8),
        "brachiocephalic_trunk": _tube(grid, _segment(_arch_point(125), _arch_point(125) + up), 5.0),
        "common_carotid_artery_left": _tube(grid, _segment(_arch_point(90), _arch_point(90) + up), 3.5),
        "subclavian_artery_left": _tube(grid, _segment(_arch_point(60), _arch_point(60) + up), 4.5),
        "iliac_artery_right": _tube(grid, _segment((80, Y0, 18), (66, Y0, 0)), 4.5),
        "iliac_artery_left": _tube(grid, _segment((80, Y0, 18), (94, Y0, 0)), 4.5),
        "celiac_trunk": _tube(grid, _segment((80, Y0 + 8, 60), (80, Y0 + 30, 60)), 3.5),
        "superior_mesenteric_artery": _tube(grid, _segment((80, Y0 + 8, 48), (80, Y0 + 28, 40)), 3.0),
        "renal_arteries": np.zeros(SHAPE, np.uint8),
        "vertebrae_T12": _box(grid, (65, 95), (12, 34), (74, 94)),
        "annulus_proper": _disk(grid, center=(30, Y0, 90.5), radius=12.0, half_mm=1.5),
        "sinotubular_junction": _disk(grid, center=(30, Y0, 119.0), radius=14.0, half_mm=1.5),
    }
    for name in ("brachiocephalic_trunk", "common_carotid_artery_left", "subclavian_artery_left", "celiac_trunk",
                 "superior_mesenteric_artery", "iliac_artery_right", "iliac_artery_left"):
        masks[name] = (masks[name] & (1 - aorta)).astype(np.uint8)  # a branch starts at the aortic wall
    if case == "dissection":
        x, z = grid[..., 0], grid[..., 2]
        band = (z > 40) & (z < 110)
        masks["aorta_false_lumen"] = ((aorta > 0) & band & (x > 81.0)).astype(np.uint8)
        masks["aorta_true_lumen"] = ((aorta > 0) & ~(band & (x > 79.0))).astype(np.uint8)  # a septum between
    if case == "irregular":
        _roughen(masks, np.random.default_rng(7))
    if case == "partial":
        masks["brachiocephalic_trunk"] = np.zeros(SHAPE, np.uint8)
        masks["celiac_trunk"] = np.zeros(SHAPE, np.uint8)
    ct = np.full(SHAPE, 40, dtype=np.int16)
    ct[masks["vertebrae_T12"] > 0] = 700
    for name, mask in masks.items():
        if name not in ("vertebrae_T12", "annulus_proper", "sinotubular_junction", "heart"):
            ct[mask > 0] = 350
    if "aorta_false_lumen" in masks:
        ct[masks["aorta_false_lumen"] > 0] = 150
    return ct, masks


def _roughen(masks: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Seeded noise: a third of the voxels on either side of each vessel's surface flipped, stray blobs added."""
    from scipy import ndimage

    for name in ("aorta", "annulus_proper", "sinotubular_junction", "brachiocephalic_trunk", "subclavian_artery_left",
                 "celiac_trunk"):
        mask = masks[name] > 0
        shell = ndimage.binary_dilation(mask) & ~ndimage.binary_erosion(mask)
        flip = shell & (rng.random(SHAPE) < 1 / 3)
        masks[name] = (mask ^ flip).astype(np.uint8)
    for _ in range(3):  # blobs away from the aorta: the largest-blob step must drop them
        x, y, z = rng.integers((2, 2, 2), (12, 12, SHAPE[2] - 4))
        masks["aorta"][x: x + 3, y: y + 3, z: z + 3] = 1


def _box(grid, xr, yr, zr) -> np.ndarray:
    x, y, z = grid[..., 0], grid[..., 1], grid[..., 2]
    inside = (x >= xr[0]) & (x <= xr[1]) & (y >= yr[0]) & (y <= yr[1]) & (z >= zr[0]) & (z <= zr[1])
    return inside.astype(np.uint8)


def _disk(grid, *, center, radius: float, half_mm: float) -> np.ndarray:
    d = grid - np.asarray(center, dtype=np.float32)
    inside = (d[..., 0] ** 2 + d[..., 1] ** 2 <= radius ** 2) & (np.abs(d[..., 2]) <= half_mm)
    return inside.astype(np.uint8)


def write_case(case: str, folder: Path) -> None:
    """The case's CT, its ``models/`` masks and phase file under ``folder`` (``irregular``: stored LPS)."""
    ct, masks = build_case(case)
    affine = np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0])
    if case == "irregular":  # the same world positions, the first two array axes reversed (LPS storage)
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])
        flip[:2, 3] = [SHAPE[0] - 1, SHAPE[1] - 1]
        affine = affine @ flip
        ct = ct[::-1, ::-1].copy()
        masks = {name: mask[::-1, ::-1].copy() for name, mask in masks.items()}
    models = folder / "models"
    if folder.exists():
        shutil.rmtree(folder)
    models.mkdir(parents=True)
    nib.save(nib.Nifti1Image(ct, affine), folder / "ct.nii.gz")
    for name, mask in masks.items():
        nib.save(nib.Nifti1Image(mask, affine), models / f"{name}.nii.gz")
    phase = {"pi_time": 30.0, "phase": "arterial_late", "probability": 1.0}
    (models / "contrast_phase.json").write_text(json.dumps(phase))


def run_official(folder: Path, *, erosion: bool = False) -> dict:
    """The official report JSON from ``folder``'s CT and masks (pictures skipped, see the module doc)."""
    from totalsegmentator.aorta_report import pipeline
    from totalsegmentator.bin.totalseg_aorta_report import _load_metadata
    from totalsegmentator.serialization_utils import convert_to_serializable

    pipeline.render_previews = lambda *a, **k: None
    pipeline.render_report_image = lambda *a, **k: None
    pipeline.serialize_outputs = lambda *a, **k: (None, None)
    logger = logging.getLogger("aorta_report_golden")
    models = folder / "models"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "models").mkdir()
        shutil.copy(models / "contrast_phase.json", tmp_dir / "models" / "contrast_phase.json")
        final = None
        for step in pipeline.create_aorta_report(
            folder / "ct.nii.gz", models, models, _load_metadata(None, logger), tmp_dir, logger,
            delete_tmp=False, delete_aux_files=True, aorta_fn="aorta.nii.gz", annulus_fn="annulus_proper.nii.gz",
            erosion=erosion,
        ):
            final = step
    return convert_to_serializable(final["report_json"])


def write_grid_case(folder: Path) -> None:
    """Masks on two different grids (annulus LPS at 1 mm, aorta RAS at 1.6 mm, shifted) and the official
    reference grid made from them (the annulus cropped to the aorta + 20 mm, at 0.8 mm): ``grid.json``."""
    import hashlib

    from totalsegmentator.aorta_report.utils import crop_to_masks, keep_largest_blob
    from totalsegmentator.resampling import change_spacing

    folder.mkdir(parents=True, exist_ok=True)
    aorta = np.zeros((40, 36, 50), np.uint8)
    aorta[12:22, 10:20, 5:45] = 1
    aorta[2:4, 2:4, 2:4] = 1  # a stray blob: the crop follows the largest blob
    shift = np.eye(4)
    shift[:3, 3] = (2, 1, 3)
    aorta_img = nib.Nifti1Image(aorta, np.diag([1.6, 1.6, 1.6, 1]) @ shift)
    annulus = np.zeros((70, 60, 90), np.uint8)
    annulus[25:35, 25:35, 20:23] = 1
    annulus_img = nib.Nifti1Image(annulus, np.array([[-1.0, 0, 0, 60], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))
    nib.save(aorta_img, folder / "aorta.nii.gz")
    nib.save(annulus_img, folder / "annulus_proper.nii.gz")
    canonical = nib.as_closest_canonical(aorta_img)
    blob = nib.Nifti1Image(keep_largest_blob(canonical.get_fdata(dtype=np.float32)), canonical.affine)
    grid = change_spacing(crop_to_masks(nib.as_closest_canonical(annulus_img), [blob], [20, 20, 20], dtype=np.uint8),
                          0.8, order=0)
    data = grid.get_fdata(dtype=np.float32).astype(np.uint8)
    result = {"shape": list(grid.shape), "affine": grid.affine.tolist(),
              "zooms": [float(z) for z in grid.header.get_zooms()], "annulus_voxels": int(data.sum()),
              "annulus_sha1": hashlib.sha1(np.ascontiguousarray(data).tobytes()).hexdigest()}
    (folder / "grid.json").write_text(json.dumps(result, indent=4) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="official aorta report goldens on phantoms")
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"cases to build and run (default: all of {', '.join(CASES)})")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the cases (default: the goldens)")
    args = parser.parse_args(argv)
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.out == OUT and not args.cases:
        write_grid_case(OUT / "grid")
    for case in args.cases or CASES:
        folder = args.out / case
        write_case(case, folder)
        started = time.perf_counter()
        result = run_official(folder, erosion=case in EROSION_CASES)
        seconds = time.perf_counter() - started
        (folder / "official.json").write_text(json.dumps(result, indent=4) + "\n")
        if args.out != OUT:  # for the side-by-side benchmark; the goldens stay free of timings
            (folder / "official_seconds.txt").write_text(f"{seconds:.2f}\n")
        print(f"{case}: wrote {folder / 'official.json'} ({seconds:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
