"""Export page: masks, the multilabel file, DICOM-SEG/RTSTRUCT (DICOM input), JSON files and the report.

Files are produced when their button is clicked (deferred downloads), so opening the page is free.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from totalseg.ui import export
from totalseg.ui.config import AppConfig
from totalseg.ui.report import build_report
from totalseg.ui.views import session
from totalseg.ui.views.measurements import clinical, statistics


def render(config: AppConfig) -> None:
    """Draw the Export page."""
    st.header("Export")
    case = session.require_case(segmented=True)
    if case is None:
        return
    stem = Path(case.name).name.split(".")[0] or "case"
    stats, findings = statistics(case), clinical(case)
    st.subheader("Segmentation")
    cols = st.columns(2)
    _button(cols[0], "Masks, one .nii.gz per structure (zip)", f"{stem}_segmentations.zip", "application/zip",
            lambda folder: export.masks_zip(case, folder).read_bytes(), "export_masks")
    _button(cols[1], "Multilabel NIfTI (label names in the header)", f"{stem}_segmentation.nii.gz",
            "application/gzip", lambda folder: export.multilabel_file(case, folder).read_bytes(), "export_ml")
    if case.is_dicom:
        cols = st.columns(2)
        _button(cols[0], "DICOM-SEG", f"{stem}_seg.dcm", "application/dicom",
                lambda folder: export.dicom_seg_file(case, folder).read_bytes(), "export_seg")
        _button(cols[1], "RTSTRUCT", f"{stem}_rtstruct.dcm", "application/dicom",
                lambda folder: export.rtstruct_file(case, folder).read_bytes(), "export_rtstruct")
    else:
        st.caption("DICOM-SEG and RTSTRUCT are offered for DICOM input (upload the series as a .zip).")
    st.subheader("Measurements and report")
    cols = st.columns(3)
    _button(cols[0], "statistics.json", f"{stem}_statistics.json", "application/json",
            lambda folder: export.statistics_file(stats, folder).read_bytes(), "export_stats")
    _button(cols[1], "clinical.json", f"{stem}_clinical.json", "application/json",
            lambda folder: export.clinical_file(findings, folder).read_bytes(), "export_clinical")
    _button(cols[2], "Report (HTML, one page)", f"{stem}_report.html", "text/html",
            lambda folder: build_report(case, stats, findings).encode(), "export_report")


def _button(where, label: str, file_name: str, mime: str, make: Callable[[Path], bytes], key: str) -> None:
    """A download button whose file is written, in a fresh temporary folder, only when clicked."""

    def produce() -> bytes:
        with tempfile.TemporaryDirectory(prefix="totalseg-export-") as folder:
            return make(Path(folder))

    where.download_button(label, data=produce, file_name=file_name, mime=mime, key=key, on_click="ignore")
