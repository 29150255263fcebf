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

and ``nodeinfo.json`` with ``metadata.json``, the metadata block the official command makes of that
node-info file (``-n``).

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

- ``seeded``: the masks our engine makes with seeded tiny random weights (``heartchambers_highres``,
  ``pulmonary_artery_landmarks`` and the ``total --fast`` heart crop, as the official ``--run_models``
  runs them) from the ``full`` CT, with the 0.8 mm heart crop they lie on as the CT. Random networks
  find no pulmonary artery, so only the proximal MPA (its own plane) is measured. Made with our venv
  first (the official venv has no ``totalseg``)::

      python benchmarks/pulmonary_report_golden.py --seeded-masks

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
SEEDED_MODELS = [297, 298, 301, 514]  # total 3 mm and 6 mm, heartchambers_highres, pulmonary_artery_landmarks
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


def write_seeded_masks(folder: Path) -> None:
    """``folder``'s CT and ``models/`` masks from our engine with seeded tiny weights (our venv)."""
    from totalseg.models.synthetic import write_random_weights
    from totalseg.reports.pulmonary.masks import ARTERY
    from totalseg.reports.pulmonary.model_runs import run_models
    from totalseg.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        weights, home = Path(tmp) / "weights", Path(tmp) / "home"
        write_random_weights(weights, SEEDED_MODELS, tiny=True, seed=0)
        home.mkdir()
        (home / "config.json").write_text(json.dumps({"license_number": "aca_SEEDEDWEIGHT00"}))
        names = [ARTERY, "pul_annulus", "pul_sinotubular_junction", "pul_bifurcation", "pul_left_start",
                 "pul_right_start"]
        run = run_models(nib.load(OUT / "full" / "ct.nii.gz"), names, device="cpu",
                         settings=Settings(home_dir=home, weights_dir=weights))
    if run.ct is None or run.masks.failures:
        raise SystemExit(f"our engine did not run: {run.masks.failures}")
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "models").mkdir(parents=True)
    nib.save(run.ct, folder / "ct.nii.gz")
    for name, img in run.masks.images.items():
        nib.save(img, folder / "models" / f"{name}.nii.gz")


def write_docs() -> None:
    """The ``docs/benchmarks.md`` section: our report beside the official JSON for every case (our venv)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from harness import write_section

    from totalseg.reports.pulmonary.masks import masks_from_path
    from totalseg.reports.pulmonary.report import measure_report

    rows, identical, total, metadata_same = [], 0, 0, True
    for case in [*CASES, "seeded"]:
        folder = OUT / case
        official = json.loads((folder / "official.json").read_text())
        ours = json.loads(json.dumps(measure_report(nib.load(folder / "ct.nii.gz"),
                                                    masks_from_path(folder / "models")).json))
        metadata_same = metadata_same and ours["metadata"] == official["metadata"]
        for index, theirs in official["landmarks"].items():
            theirs = {k: v for k, v in theirs.items() if k != "roi_sum"}
            mine, same = ours["landmarks"][index], ours["landmarks"][index] == theirs
            identical, total = identical + same, total + 1
            rows.append(f"| {case} | {index} {theirs['name']} | {_cell(theirs)} | {_cell(mine)} | "
                        f"{'identical' if same else 'differs'} |")
    text = [
        "## Pulmonary report against the official tool",
        "",
        "`totalseg report pulmonary` beside TotalSegmentator 2.18.0's own pulmonary report pipeline "
        "(`create_pulmonary_report`, pictures skipped) from the same CT and masks: hand-made phantoms with "
        "design diameters MPA 26 mm, left PA 20 mm, right PA 22 mm, and the masks of our engine with seeded "
        "random weights (`seeded`). Cells: diameter x perpendicular diameter (cm), area (cm^2); identical "
        "means every key and value of the landmark's JSON entry (end points in mm and voxels included). "
        "Diameters read 1-3 mm above the design: the official diameter joins the centres of the two farthest "
        "boundary voxels of the 0.8 mm cut, and the cuts of landmarks 2-5 are dilated by one voxel.",
        "Rerun: `.bench/official-venv/bin/python benchmarks/pulmonary_report_golden.py`, then "
        "`python benchmarks/pulmonary_report_golden.py --docs`.",
        "",
        f"**{identical} of {total} landmark entries identical; metadata "
        f"{'identical in every case' if metadata_same else 'DIFFERS'}.**",
        "",
        "| case | landmark | official | ours | JSON entry |",
        "|---|---|---|---|---|",
        *rows,
    ]
    write_section("pulmonary-report", "\n".join(text))


def _cell(entry: dict) -> str:
    if entry["diameter"] is None:
        return "not measurable"
    return f"{entry['diameter']} x {entry['diameter_pd']}, {entry['area']}"


NODEINFO = {"PatientsName": "Phantom^Pulmonary", "PatientsAge": "061Y", "PatientsSex": "F",
            "PatientsBirthDate": "19650302", "StudyDate": "20260101", "Modality": "CT"}


def write_metadata_golden() -> None:
    """``nodeinfo.json`` and the metadata block the official report makes of it (``metadata.json``)."""
    from totalsegmentator.bin.totalseg_pulmonary_report import _load_metadata

    path = OUT / "nodeinfo.json"
    path.write_text(json.dumps(NODEINFO, indent=4))
    metadata = _load_metadata(path, logging.getLogger("pulmonary_report_golden"))
    (OUT / "metadata.json").write_text(json.dumps(metadata, indent=4))


def main(cases: list[str]) -> None:
    if cases == ["--seeded-masks"]:
        write_seeded_masks(OUT / "seeded")
        return
    if cases == ["--docs"]:
        write_docs()
        return
    for case in cases:
        if case == "metadata":
            write_metadata_golden()
            continue
        folder = OUT / case
        if case in CASES:
            write_case(case, folder)
        report = run_official(folder)
        for landmark in report["landmarks"].values():
            if "roi" in landmark:
                landmark["roi_sum"] = int(np.sum(landmark.pop("roi")))
        (folder / "official.json").write_text(json.dumps(report, indent=4))
        print(case, {k: (v["diameter"], v["diameter_pd"]) for k, v in report["landmarks"].items()})


if __name__ == "__main__":
    main(sys.argv[1:] or [*CASES, "seeded", "metadata"])
