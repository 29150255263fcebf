"""``totalseg report pulmonary``: the CT and its masks in, ``pulmonary_report.json`` and
``pulmonary_report.html`` out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib

from totalseg.errors import InputError
from totalseg.io.atomic import atomic_path, atomic_write_text
from totalseg.measure.files import write_json
from totalseg.reports.nodeinfo import report_metadata
from totalseg.reports.pulmonary.landmarks import VERSION
from totalseg.reports.pulmonary.masks import MaskSet, masks_from_path
from totalseg.reports.pulmonary.page import report_page
from totalseg.reports.pulmonary.report import measure_report
from totalseg.settings import Settings

JSON_NAME = "pulmonary_report.json"
HTML_NAME = "pulmonary_report.html"


def pulmonary_report(ct: str | os.PathLike, out_dir: str | os.PathLike, *, seg_dir: str | os.PathLike | None = None,
                     seg: Sequence[str | os.PathLike] = (), nodeinfo: str | os.PathLike | None = None,
                     run_models: bool = True, device: str = "cpu", settings: Settings | None = None,
                     quiet: bool = True) -> dict:
    """Measure the pulmonary artery landmarks of ``ct`` and write the report's JSON and HTML page.

    Args:
        ct: the CT (any format ``totalseg`` reads; NIfTI is read as stored).
        out_dir: the folder for ``pulmonary_report.json`` and ``pulmonary_report.html``.
        seg_dir: a folder of masks in the official intermediate layout (``pulmonary_artery.nii.gz``,
            ``pul_annulus.nii.gz``, ...), as the official ``--rois_totalseg``/``--rois_details``.
        seg: further segmentations (mask folders or multilabel files with label names); earlier
            sources win for a mask given twice.
        nodeinfo: a JSON file of the patient's DICOM tags for the ``metadata`` block (the official
            ``-n``); without it the official defaults (age 83).
        run_models: segment the missing masks with our engine (licensed tasks: only with a stored
            licence key and weights); what it makes is kept in ``out_dir/models/`` (the masks and
            ``ct_cropped.nii.gz``, the 0.8 mm heart crop they lie on).
        device: the engine's device.
        settings: weights and licence location; read from the environment when omitted.
        quiet: no progress output.

    Returns:
        The report JSON: the official ``landmarks`` and ``metadata``, and ``not_measurable``.

    Examples:
        >>> pulmonary_report("ct.nii.gz", "out", seg_dir="models")  # doctest: +SKIP
    """
    ct_img = read_ct(ct)
    metadata = report_metadata(nodeinfo, version=VERSION) if nodeinfo is not None else None
    given = MaskSet()
    for path in [p for p in (seg_dir, *seg) if p is not None]:
        given = given.add(masks_from_path(path))
    masks = given
    if given.missing() and run_models:
        from totalseg.reports.pulmonary.model_runs import run_models as run_engine

        engine = run_engine(ct_img, given.missing(), device=device, settings=settings or Settings.from_env(),
                            quiet=quiet)
        masks = given.add(engine.masks)
        _keep_engine_outputs(engine, Path(out_dir) / "models")
        if engine.ct is not None and not given.images:
            ct_img = engine.ct  # every mask on the engine's 0.8 mm heart crop: measure on it, as the official
    result = measure_report(ct_img, masks, metadata=metadata)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(result.json, out / JSON_NAME)
    atomic_write_text(out / HTML_NAME, report_page(result.json, result.slices, sources=masks.origin))
    return result.json


def _keep_engine_outputs(engine, folder: Path) -> None:
    """The engine's masks and CT, written atomically, as the official report's ``models/`` folder."""
    if engine.ct is None:
        return
    for name, img in [("ct_cropped", engine.ct), *engine.masks.images.items()]:
        with atomic_path(folder / f"{name}.nii.gz") as tmp:
            nib.save(img, tmp)


def read_ct(path: str | os.PathLike) -> nib.Nifti1Image:
    """The CT as a NIfTI image: a NIfTI file as stored (its data type and scaling), else read by
    ``totalseg.io``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such CT file or folder; pass the CT image")
    if path.name.endswith((".nii", ".nii.gz")):
        return nib.load(path)
    from totalseg.io import read_volume

    return read_volume(path).to_nifti()
