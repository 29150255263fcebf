"""DICOM input in the web app: a zipped real CT series is read, and the Export page writes DICOM-SEG and
RTSTRUCT files that reference it and hold a known segmentation."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("totalseg.io.dicom")
pydicom = pytest.importorskip("pydicom")
pytest.importorskip("highdicom")

from totalseg.anatomy.class_maps import class_map  # noqa: E402
from totalseg.imaging.volume import LabelVolume  # noqa: E402
from totalseg.io.rtstruct import read_rtstruct  # noqa: E402
from totalseg.ui import export  # noqa: E402
from totalseg.ui.case import RunChoice  # noqa: E402

SERIES = Path(__file__).resolve().parents[1] / "data" / "dicom_ct_j2k"
LIVER_BOX = (slice(200, 300), slice(220, 300), slice(5, 15))  # (X, Y, Z) voxels of the series' volume


@pytest.fixture(scope="module")
def dicom_zip(tmp_path_factory) -> Path:
    """The real 20-slice CT series (JPEG 2000) as a browser would upload it: one zip of a study folder."""
    path = tmp_path_factory.mktemp("dicom") / "study.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for member in sorted(SERIES.iterdir()):
            zf.write(member, arcname=f"study/series1/{member.name}")
    return path


def test_dicom_zip_opens_and_exports_seg_and_rtstruct(make_app, dicom_zip, tmp_path):
    at = make_app()
    at.file_uploader(key="upload").set_value(("study.zip", dicom_zip.read_bytes(), "application/zip")).run()
    assert not at.exception and [e.value for e in at.error] == []
    case = at.session_state["case"]
    assert case.is_dicom and case.image.shape == (512, 512, 20) and case.modality == "ct"
    assert at.selectbox(key="task").value == "total"
    assert any("DICOM: " in c.value for c in at.caption)
    notes = [w.value for w in at.warning]  # this anonymised series has blank UIDs: the reader fills them
    assert case.notes and notes == list(case.notes) and "UID" in notes[0] and "/tmp" not in notes[0]

    labels = np.zeros(case.image.shape, np.uint8)
    labels[LIVER_BOX] = 5
    segmented = case.with_segmentation(LabelVolume(labels, affine=case.image.affine), class_map("total"),
                                       RunChoice(task="total", mode="fast"), 1.0)
    at.session_state["case"] = segmented
    at.sidebar.radio(key="page").set_value("Export").run()
    assert not at.exception
    assert {"DICOM-SEG", "RTSTRUCT"} <= {b.label for b in at.get("download_button")}

    series = case.series
    seg = pydicom.dcmread(export.dicom_seg_file(segmented, tmp_path))
    assert seg.Modality == "SEG" and [s.SegmentLabel for s in seg.SegmentSequence] == ["liver"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series.series_uid
    assert int(seg.NumberOfFrames) == 10  # one frame per slice the liver box crosses

    masks = read_rtstruct(export.rtstruct_file(segmented, tmp_path), series)
    liver = masks["liver"]
    expected = labels == 5
    dice = 2 * (liver & expected).sum() / (liver.sum() + expected.sum())
    assert set(masks) == {"liver"} and dice > 0.97  # contours rasterise back to the box
