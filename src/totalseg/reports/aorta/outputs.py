"""Running the report for the command line and writing its files (atomically)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib

from totalseg.errors import InputError
from totalseg.io.atomic import atomic_write_text
from totalseg.measure.files import write_json
from totalseg.reports.aorta.definitions import REPORT_VERSION
from totalseg.reports.aorta.html import report_page
from totalseg.reports.aorta.report import AortaReport, aorta_report
from totalseg.reports.aorta.sources import masks_from_folder, masks_from_total, phase_from_folder
from totalseg.reports.nodeinfo import check_ct_shape, report_metadata

JSON_NAME = "aorta_report.json"
NOTES_NAME = "not_measurable.json"
HTML_NAME = "aorta_report.html"


@dataclass(frozen=True)
class ReportRequest:
    """What the command asked for: the CT, where to write, where the masks are, options."""

    ct: Path
    out_dir: Path
    seg_dir: Path | None = None
    seg: Path | None = None
    device: str = "cpu"
    phase: str | None = None
    skip_dissection: bool = False
    erosion: bool = False
    nodeinfo: Path | None = None
    quiet: bool = True


def run_report(request: ReportRequest) -> AortaReport:
    """Collect the masks (running our ``total`` model when none are given), measure, write the files.

    Writes ``aorta_report.json`` (the official keys), ``not_measurable.json`` (landmark or section ->
    reason) and ``aorta_report.html`` into ``request.out_dir``.

    Examples:
        >>> request = ReportRequest(ct=Path("ct.nii.gz"), out_dir=Path("out"), seg_dir=Path("models"))
        >>> run_report(request).json["landmarks"]["9"]["diameter"]  # doctest: +SKIP
        2.4
    """
    if not request.ct.is_file():
        raise InputError(f"{request.ct}: no such CT file; pass the CT the masks belong to (-i)")
    metadata = report_metadata(request.nodeinfo, version=REPORT_VERSION)
    check_ct_shape(nib.load(request.ct).shape, request.ct)
    ct_path, masks, phase = request.ct, {}, request.phase
    if request.seg is None and request.seg_dir is None:
        from totalseg.reports.aorta.segmentation import segment_total

        models = request.out_dir / "models"
        ct_path = segment_total(request.ct, models, device=request.device, quiet=request.quiet)
        masks = masks_from_folder(models)
    if request.seg_dir is not None:
        masks = masks_from_folder(request.seg_dir)
        phase = phase or phase_from_folder(request.seg_dir)
    if request.seg is not None:
        masks = masks | masks_from_total(request.seg)
    report = aorta_report(masks, ct=nib.load(ct_path), phase=phase, skip_dissection=request.skip_dissection,
                          erosion=request.erosion, metadata=metadata)
    write_files(report, request.out_dir)
    return report


def write_files(report: AortaReport, out_dir: str | os.PathLike) -> None:
    """The report's JSON, its reasons and its HTML page in ``out_dir``.

    Examples:
        >>> write_files(aorta_report(masks), "out")  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(report.json, out_dir / JSON_NAME)
    write_json(report.not_measurable, out_dir / NOTES_NAME)
    atomic_write_text(out_dir / HTML_NAME, report_page(report))
