"""Manifest and label statistics against a brute-force nibabel reference, cache reuse, damaged subjects."""

from __future__ import annotations

import doctest
import os

import nibabel as nib
import numpy as np
import pytest

import totalseg.dataset.manifest as manifest_module
import totalseg.dataset.stats as stats_module
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.manifest import manifest_columns, write_manifest
from totalseg.dataset.scan import scan_dataset
from totalseg.dataset.splits import ratio_split
from totalseg.dataset.stats import label_stats
from totalseg.dataset.tables import read_table


def reference_manifest(reference_masks, root, index, every, offset, splits):
    names = list(index.classes.values())
    rows = []
    for subject in index.subjects:
        masks = reference_masks(root, subject.id, names)
        nz = nib.load(root / subject.id / "ct.nii.gz").shape[2]
        for k in range(offset, nz, every):
            flags = [int(m is not None and bool(m[:, :, k].any())) for m in masks.values()]
            rows.append([f"{subject.id}/ct.nii.gz", k, splits[subject.id], *flags])
    return rows


@pytest.mark.parametrize(("every", "offset", "suffix"), [(5, 0, ".csv"), (4, 2, ".parquet")])
def test_manifest_equals_the_reference(mock_root, tmp_path, every, offset, suffix, reference_masks):
    index = open_dataset(mock_root)
    out = tmp_path / f"manifest{suffix}"
    report = write_manifest(index, out, every=every, offset=offset, split="ratio", cache_dir=tmp_path / "cache",
                            workers=2, progress=False)
    table = read_table(out)
    names = list(index.classes.values())
    assert list(table) == ["path", "slice", "split", *names]
    got = [[str(v) for v in row] for row in zip(*table.values())]
    splits = ratio_split([s.id for s in index.subjects])
    reference = reference_manifest(reference_masks, mock_root, index, every, offset, splits)
    want = [[str(v) for v in row] for row in reference]
    assert got == want
    assert report.rows == len(want) and report.subjects == 10 and not report.scan.skipped
    assert any(int(v) for v in table["liver"]) and not all(int(v) for v in table["liver"])


def test_stats_equal_the_reference(mock_root, reference_masks):
    index = open_dataset(mock_root)
    table = label_stats(scan_dataset(index, workers=1, progress=False))
    names = list(index.classes.values())
    volumes = {n: [] for n in names}
    for subject in index.subjects:
        voxel_ml = float(np.prod(nib.load(mock_root / subject.id / "ct.nii.gz").header.get_zooms())) / 1000
        for name, mask in reference_masks(mock_root, subject.id, names).items():
            if mask.any():
                volumes[name].append(np.count_nonzero(mask) * voxel_ml)
    assert table["label"] == list(index.classes) and table["name"] == names
    assert table["cases"] == [len(volumes[n]) for n in names]
    assert table["coverage_percent"] == [round(len(volumes[n]) / 10 * 100, 2) for n in names]
    for name, got in zip(names, table["volume_cm3"]):
        if volumes[name]:
            assert got == pytest.approx(round(np.mean(volumes[name]), 2))
        else:
            assert np.isnan(got)


def test_scans_are_cached_and_invalidated_per_subject(mock_copy, tmp_path):
    index = open_dataset(mock_copy)
    cache = tmp_path / "cache"
    first = scan_dataset(index, cache_dir=cache, workers=1, progress=False)
    saved = {p.name: p.stat().st_mtime_ns for p in (cache / "scan").iterdir()}
    assert len(saved) == 10
    mask = mock_copy / "s0004" / "segmentations" / "spleen.nii.gz"
    full = np.ones(nib.load(mask).shape, np.uint8)
    nib.save(nib.Nifti1Image(full, nib.load(mask).affine), mask)
    second = scan_dataset(index, cache_dir=cache, workers=1, progress=False)
    rescanned = {p.name for p in (cache / "scan").iterdir() if p.stat().st_mtime_ns != saved[p.name]}
    assert rescanned == {"s0004.npz"}
    assert second.scans["s0004"].counts[0].sum() == full.size
    assert first.scans["s0004"].counts[0].sum() != full.size
    np.testing.assert_array_equal(first.scans["s0005"].counts, second.scans["s0005"].counts)


def test_damaged_subjects_are_skipped_and_listed(mock_copy, tmp_path):
    seg = mock_copy / "s0002" / "segmentations"
    (seg / "liver.nii.gz").write_bytes((seg / "liver.nii.gz").read_bytes()[:-40])  # truncated
    (mock_copy / "s0006" / "segmentations" / "spleen.nii.gz").unlink()  # missing: counted empty
    wrong = mock_copy / "s0007" / "segmentations" / "aorta.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.eye(4)), wrong)
    index = open_dataset(mock_copy)
    out = tmp_path / "m.csv"
    report = write_manifest(index, out, every=3, cache_dir=None, workers=2, progress=False)
    skipped = {s.subject: s.reason for s in report.scan.skipped}
    assert set(skipped) == {"s0002", "s0007"}
    assert "s0002/segmentations/liver.nii.gz" in skipped["s0002"]
    assert "aorta.nii.gz: shape (3, 3, 3) differs" in skipped["s0007"]
    assert report.scan.missing_masks == ["s0006/spleen"]
    paths = set(read_table(out)["path"])
    assert paths == {f"s{i:04d}/ct.nii.gz" for i in range(10) if i not in (2, 7)}


def test_official_split_column_and_bad_arguments(mock_root, tmp_path):
    index = open_dataset(mock_root)
    scan = scan_dataset(index, subjects=["s0007", "s0008"], workers=1, progress=False)
    from totalseg.dataset.splits import official_split

    cols = manifest_columns(index, scan, official_split(index), every=100)
    assert cols["split"] == ["val", "test"] and cols["slice"] == [0, 0]
    from totalseg.errors import InputError

    with pytest.raises(InputError, match="--every must be >= 1"):
        manifest_columns(index, scan, {}, every=0)
    with pytest.raises(InputError, match="name it .csv or .parquet"):
        write_manifest(index, tmp_path / "m.xlsx", progress=False)
    assert not os.path.exists(tmp_path / "m.xlsx")


def test_docstring_examples():
    assert doctest.testmod(manifest_module).failed == 0
    assert doctest.testmod(stats_module).failed == 0
