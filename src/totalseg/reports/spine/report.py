"""``totalseg report spine``: the whole flow, as the official ``totalseg_spine_report``.

Reads (or computes, see :mod:`totalseg.reports.spine.inputs`) the vertebrae masks and the contrast
phase, measures every vertebra (:mod:`totalseg.reports.spine.vertebrae`) and writes into the output
folder:

- ``spine_report.json``: ``{"results": ..., "metadata": ..., "totalseg_additions": ...}``; the first
  two exactly as the official JSON, the third ours (:mod:`totalseg.reports.spine.results`);
- ``spine_report.nii.gz``: the front page picture as an RGB NIfTI (the official file's layout);
- ``spine_report.html``: one self-contained page with the table and the sagittal key image;
- ``spine_report_sagittal.png``: that key image.

Every file is written atomically.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib

from totalseg.errors import InputError
from totalseg.io.atomic import atomic_path, atomic_write_text
from totalseg.measure.files import write_json
from totalseg.reports.spine import inputs as spine_inputs
from totalseg.reports.spine.overlay import front_page, rgb_nifti, sagittal_view, vertebra_view
from totalseg.reports.spine.page import findings_lines, spine_page
from totalseg.reports.spine.results import ADDITIONS_KEY, additions, metadata, official_results
from totalseg.reports.spine.vertebrae import SPINE_RANGES, measure_spine

MAX_SIDE = 1500  # official: larger images are refused
MIN_SIDE = 20


@dataclass(frozen=True)
class SpineReport:
    """The report's content and the files written."""

    report: dict
    json_path: Path
    nifti_path: Path
    html_path: Path


def create_spine_report(ct: str | os.PathLike, out_dir: str | os.PathLike, *, seg_dir: str | os.PathLike | None = None,
                        nodeinfo: str | os.PathLike | None = None, spine_range: str = "all", device: str = "cpu",
                        download: bool = True, quiet: bool = True, settings=None) -> SpineReport:
    """Write the spine report of the CT ``ct`` into ``out_dir``.

    Args:
        ct: the CT image (any format ``totalseg segment`` reads).
        out_dir: the output folder (created).
        seg_dir: the folder of intermediate files (``totalseg_vertebrae_pp_refined.nii.gz``,
            ``contrast_phase.json``, as the official command keeps them); missing ones are computed
            and written there. Default: ``out_dir``.
        nodeinfo: a JSON of DICOM fields (PatientSex, PatientAge or PatientBirthDate and StudyDate,
            ...) for the metadata block, as the official ``-n``.
        spine_range: ``all``, ``thoracic_lumbar``, ``lumbar`` or ``l1_l4`` (official ``-sr``).
        device: where the models run if masks or phase are missing.
        download: fetch missing weights.
        quiet: no progress output from the model runs.
        settings: weights location; from the environment when omitted.

    Returns:
        A :class:`SpineReport`.

    Examples:
        >>> create_spine_report("ct.nii.gz", "out", seg_dir="tmp").report["results"]  # doctest: +SKIP
        {'vertebrae_L1_height_posterior_mm': 24.75, ..., 'LWS_max': 0.26}
    """
    if spine_range not in SPINE_RANGES:
        raise InputError(f"spine range {spine_range!r} is not one of {', '.join(SPINE_RANGES)}; pick one of them")
    _check_shape(ct)
    out_dir = Path(out_dir)
    work = Path(seg_dir) if seg_dir is not None else out_dir
    work.mkdir(parents=True, exist_ok=True)
    run = dict(device=device, download=download, quiet=quiet, settings=settings)
    vertebrae_path = spine_inputs.vertebrae_file(ct, work, **run)
    phase = spine_inputs.contrast_phase(ct, work, **run)
    data = spine_inputs.read_inputs(ct, vertebrae_path, phase)
    spine = measure_spine(data.ct, data.labels, data.label_map, ct_spacing=data.ct_spacing,
                          label_spacing=data.label_spacing, spine_range=spine_range)
    results = official_results(spine)
    extra = additions(spine, results, phase)
    report = {"results": results, "metadata": metadata(nodeinfo), ADDITIONS_KEY: extra}
    view = sagittal_view(data.ct.array, data.labels.array, spine.vertebrae, data.ct_spacing,
                         {name: g["grade"] for name, g in extra["genant"].items()})
    view_png = _png(view) if view is not None else None
    page = front_page(view, findings_lines(results, extra, report["metadata"]))
    json_path = write_json(report, out_dir / "spine_report.json")
    nifti_path = out_dir / "spine_report.nii.gz"
    with atomic_path(nifti_path) as tmp:
        nib.save(rgb_nifti(page), tmp)
    if view_png is not None:
        with atomic_path(out_dir / "spine_report_sagittal.png") as tmp:
            tmp.write_bytes(view_png)
    key_slices = [(f"{v.name.replace('vertebrae_', '')}: sagittal slice x={data.ct.shape[0] - 1 - v.x_slice}, "
                   f"heights {' / '.join(f'{line.height_mm:.1f}' for line in v.heights)} mm (posterior / middle / "
                   "anterior)", _png(vertebra_view(data.ct.array, data.labels.array, v, data.ct_spacing)))
                  for v in spine.vertebrae]
    html = spine_page(results, extra, report["metadata"], view_png, key_slices)
    html_path = atomic_write_text(out_dir / "spine_report.html", html)
    return SpineReport(report, json_path, nifti_path, html_path)


def _check_shape(ct: str | os.PathLike) -> None:
    """The official size limits (it stops with a warning; we refuse in one line)."""
    path = Path(ct)
    if not path.name.endswith((".nii", ".nii.gz")):
        return  # DICOM and other formats: checked once read
    shape = nib.load(path).shape
    if len(shape) != 3:
        raise InputError(f"{ct}: expected a 3-D CT, got shape {shape}; pass one volume")
    if max(shape) > MAX_SIDE or min(shape) < MIN_SIDE:
        raise InputError(f"{ct}: image shape {shape} is outside the official spine report's limits (each side "
                         f"{MIN_SIDE}..{MAX_SIDE} voxels); pass a CT of the spine at a usual resolution")


def _png(picture) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()
