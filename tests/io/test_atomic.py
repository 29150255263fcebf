"""Every output goes through one atomic mechanism (io.atomic): under an injected failure at the final
rename, or with a file where the folder should be, each writer raises one OutputError and leaves
neither the target nor a temporary file; a previous file of the same name survives intact."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.errors import OutputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import atomic
from totalseg.io.writers import write_class_masks, write_multilabel
from totalseg.measure.clinical import clinical_measurements, write_clinical
from totalseg.measure.preview import render_preview
from totalseg.measure.statistics import compute_statistics, write_statistics

TOTAL = class_map("total")
ID = {name: k for k, name in TOTAL.items()}
AFFINE = np.diag([-0.9, -0.9, 2.0, 1.0])


@pytest.fixture(scope="module")
def image_and_labels():
    rng = np.random.default_rng(0)
    image = Volume(rng.integers(-200, 200, (24, 20, 8)).astype(np.int16), affine=AFFINE)
    labels = np.zeros((24, 20, 8), np.uint8)
    labels[4:12, 5:12, 2:6], labels[14:20, 3:9, 2:6] = ID["liver"], ID["spleen"]
    return image, LabelVolume(labels, affine=AFFINE)


def _writers(image, labels, series):
    """(file name, a call that writes it into a folder) for every kind of output."""
    from totalseg.io.dicom_seg import write_dicom_seg
    from totalseg.io.rtstruct import write_rtstruct

    classes = {k: TOTAL[k] for k in (ID["liver"], ID["spleen"])}
    stats = compute_statistics(image, labels, classes)
    clinical = clinical_measurements(image, labels, TOTAL)
    return [
        ("seg.nii.gz", lambda folder: write_multilabel(labels, folder / "seg.nii.gz", classes)),
        ("liver.nii.gz", lambda folder: write_class_masks(labels, folder, classes)),
        ("seg.dcm", lambda folder: write_dicom_seg(labels, series, classes, folder / "seg.dcm")),
        ("rtstruct.dcm", lambda folder: write_rtstruct(labels, series, classes, folder / "rtstruct.dcm")),
        ("statistics.json", lambda folder: write_statistics(stats, folder / "statistics.json")),
        ("clinical.json", lambda folder: write_clinical(clinical, folder / "clinical.json")),
        ("preview.png", lambda folder: render_preview(image, labels, classes, folder / "preview.png")),
    ]


@pytest.fixture(scope="module")
def series(image_and_labels, tmp_path_factory, write_dicom_series):
    pytest.importorskip("highdicom")
    from totalseg.io.dicom import read_dicom_series

    folder = tmp_path_factory.mktemp("series")
    write_dicom_series(folder, image_and_labels[0].array, AFFINE, description="phantom")
    return read_dicom_series(folder)


def _cases(image_and_labels, series):
    return _writers(*image_and_labels, series)


@pytest.mark.parametrize("index", range(7))
def test_a_failed_rename_leaves_no_file_and_keeps_the_old_one(image_and_labels, series, tmp_path, monkeypatch, index):
    name, write = _cases(image_and_labels, series)[index]
    write(tmp_path)  # a previous result
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert name in before

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    with pytest.raises(OutputError, match="cannot write .*No space left on device"):
        write(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp file, old files intact


@pytest.mark.parametrize("index", range(7))
def test_a_file_in_place_of_the_folder_is_one_error(image_and_labels, series, tmp_path, index):
    _, write = _cases(image_and_labels, series)[index]
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write|is not a folder"):
        write(blocker)
    assert [p.name for p in tmp_path.iterdir()] == ["not_a_folder"]


def test_the_temporary_name_keeps_the_extension(tmp_path):
    with atomic.atomic_path(tmp_path / "x.nii.gz") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".x.nii.gz") and tmp.name.startswith(".")
        tmp.write_bytes(b"1")
    assert [p.name for p in tmp_path.iterdir()] == ["x.nii.gz"]


# Renames that move something other than a freshly written file into place.
FOLDER_MOVES = {
    "batch/folder.py",  # a staged case folder replaces the previous one
    "transfer/archive.py",  # an extracted folder replaces the previous install
    "transfer/download.py",  # a resumed .part file becomes the download once its checksum matches
    "models/license.py",  # a licence-server .part download becomes the zip once its length matches
    "serve/jobs.py",  # a finished run's staging folder becomes its job's outputs
    "serve/worker.py",  # a segmentation's files move into the job's staging folder
    "dicomnode/inbox.py",  # a complete series folder becomes its job's input
}


def test_no_writer_renames_on_its_own():
    """One mechanism: files are written through io.atomic; the only other renames move folders or
    finished downloads into place."""
    src = Path(atomic.__file__).resolve().parents[1]
    renaming = {p.relative_to(src).as_posix() for p in src.rglob("*.py")
                if any(call in p.read_text() for call in ("os.replace(", "os.rename(", ".rename("))}
    assert renaming == FOLDER_MOVES | {"io/atomic.py"}
