"""Array cache and PyTorch datasets: values against nibabel, invalidation, damaged entries, manifests."""

from __future__ import annotations

import doctest
import os

import nibabel as nib
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import totalseg.dataset.cache as cache_module
from totalseg.dataset import SliceClassificationDataset, SliceSegmentationDataset, VolumeDataset
from totalseg.dataset.cache import ArrayCache
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.manifest import write_manifest
from totalseg.errors import InputError

KIDNEYS = {"kidneys": ["kidney_right", "kidney_left"], "liver": ["liver"]}


def merged_reference(root, subject, sources, reference_masks):
    """Label map from nibabel-read masks: ``out[mask > 0] = label`` in order."""
    masks = reference_masks(root, subject, {name for _, name in sources})
    out = np.zeros(nib.load(root / subject / "ct.nii.gz").shape, np.uint8)
    for label, name in sources:
        if masks[name] is not None:
            out[masks[name] > 0] = label
    return out


def test_cache_equals_nibabel_and_is_fortran_memmap(mock_root, tmp_path, reference_masks):
    index = open_dataset(mock_root)
    cache = ArrayCache(index, tmp_path / "arrays")
    assert cache.build(["s0003", "s0004"], workers=2, progress=False) == []
    for sid in ("s0003", "s0004"):
        image = cache.image(sid)
        assert isinstance(image, np.memmap) and image.flags.f_contiguous and image.dtype == np.int16
        np.testing.assert_array_equal(image, np.asanyarray(nib.load(mock_root / sid / "ct.nii.gz").dataobj))
        np.testing.assert_array_equal(cache.labels(sid),
                                      merged_reference(mock_root, sid, index.classes.items(), reference_masks))


def test_label_maps_are_rebuilt_when_the_class_spec_changes(mock_root, tmp_path, reference_masks):
    index = open_dataset(mock_root)
    folder = tmp_path / "arrays"
    full = ArrayCache(index, folder).labels("s0001")
    assert int(full.max()) > 2
    grouped = ArrayCache(index, folder, groups=KIDNEYS)
    assert grouped.label_map == {1: "kidneys", 2: "liver"}
    sources = [(1, "kidney_right"), (1, "kidney_left"), (2, "liver")]
    expected = merged_reference(mock_root, "s0001", sources, reference_masks)
    np.testing.assert_array_equal(grouped.labels("s0001"), expected)
    image_npy = folder / "images" / "s0001.npy"
    stamp = image_npy.stat().st_mtime_ns
    ArrayCache(index, folder).labels("s0001")  # back to the full list: labels rebuilt, image kept
    assert image_npy.stat().st_mtime_ns == stamp
    with pytest.raises(InputError, match="not in the class list: pancreass"):
        ArrayCache(index, folder, groups={"x": ["pancreass"]})


def test_damaged_or_stale_entries_are_rebuilt(mock_copy, tmp_path):
    index = open_dataset(mock_copy)
    folder = tmp_path / "arrays"
    ArrayCache(index, folder).build(["s0000", "s0002"], workers=1, progress=False)
    image_npy, labels_npy = folder / "images" / "s0000.npy", folder / "labels" / "s0002.npy"
    image_npy.write_bytes(image_npy.read_bytes()[:-7])  # cut short
    liver = mock_copy / "s0002" / "segmentations" / "liver.nii.gz"
    nib.save(nib.Nifti1Image(np.ones(nib.load(liver).shape, np.uint8), nib.load(liver).affine), liver)
    later = labels_npy.stat().st_mtime_ns + 10**9
    os.utime(liver, ns=(later, later))  # the mask changed after the cache was built
    cache = ArrayCache(index, folder)
    np.testing.assert_array_equal(cache.image("s0000"), np.asanyarray(nib.load(mock_copy / "s0000/ct.nii.gz").dataobj))
    liver_id = next(i for i, n in index.classes.items() if n == "liver")
    assert (np.asarray(cache.labels("s0002")) >= liver_id).all()  # liver everywhere, later classes on top


def test_unreadable_subjects_are_skipped_with_the_file_named(mock_copy, tmp_path):
    (mock_copy / "s0005" / "segmentations" / "spleen.nii.gz").write_bytes(b"\x1f\x8b garbage")
    index = open_dataset(mock_copy)
    cache = ArrayCache(index, tmp_path / "arrays")
    skipped = cache.build(["s0004", "s0005"], workers=1, progress=False)
    assert [s.subject for s in skipped] == ["s0005"] and "s0005/segmentations/spleen.nii.gz" in skipped[0].reason
    with pytest.raises(InputError, match="spleen.nii.gz"):
        cache.labels("s0005")


def test_volume_dataset(mock_root, tmp_path):
    cache = ArrayCache(open_dataset(mock_root), tmp_path / "arrays", groups=KIDNEYS)
    ds = VolumeDataset(cache, subjects=["s0006"])
    sample = ds[0]
    assert len(ds) == 1 and sample["subject"] == "s0006"
    assert sample["image"].dtype == torch.float32 and sample["image"].shape == (1, *cache.image("s0006").shape)
    assert sample["label"].dtype == torch.int64 and set(sample["label"].unique().tolist()) <= {0, 1, 2}
    np.testing.assert_array_equal(sample["image"][0].numpy(), cache.image("s0006"))  # HU kept, no rescaling


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_slice_classification_dataset_follows_the_manifest(mock_root, tmp_path, suffix, reference_masks):
    index = open_dataset(mock_root)
    manifest = tmp_path / f"manifest{suffix}"
    write_manifest(index, manifest, every=5, offset=1, split="official", workers=1, progress=False)
    cache = ArrayCache(index, tmp_path / "arrays")
    ds = SliceClassificationDataset(manifest, cache, split="test")
    assert sorted(set(ds.subjects)) == ["s0008", "s0009"] and ds.classes == list(index.classes.values())
    masks = reference_masks(mock_root, "s0009", index.classes.values())
    i = ds.subjects.index("s0009")
    image, target = ds[i]
    k = ds.slices[i]
    assert k == 1 and image.shape == (1, 20, 16) and target.dtype == torch.float32 and target.shape == (117,)
    ct = np.asanyarray(nib.load(mock_root / "s0009" / "ct.nii.gz").dataobj)
    np.testing.assert_array_equal(image[0].numpy(), ct[:, :, k])
    expected = [float(m is not None and bool((m[:, :, k] > 0).any())) for m in masks.values()]
    assert target.tolist() == expected and sum(expected) > 0
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch[0].shape == (2, 1, 20, 16) and batch[1].shape == (2, 117)


def test_slice_classification_dataset_refuses_other_tables(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a manifest"):
        SliceClassificationDataset(table, None)  # type: ignore[arg-type]


def test_slice_segmentation_dataset_with_grouping(mock_root, tmp_path, reference_masks):
    cache = ArrayCache(open_dataset(mock_root), tmp_path / "arrays", groups=KIDNEYS)
    ds = SliceSegmentationDataset(cache, subjects=["s0002", "s0007"], every=4, offset=2)
    depths = {sid: cache.image(sid).shape[2] for sid in ("s0002", "s0007")}
    assert ds.items == [(sid, k) for sid in depths for k in range(2, depths[sid], 4)]
    reference = merged_reference(mock_root, "s0007", [(1, "kidney_right"), (1, "kidney_left"), (2, "liver")],
                                 reference_masks)
    i = ds.items.index(("s0007", 6))
    image, label = ds[i]
    assert image.shape == (1, 20, 16) and label.dtype == torch.int64
    np.testing.assert_array_equal(label.numpy(), reference[:, :, 6])
    with pytest.raises(InputError, match="every must be >= 1"):
        SliceSegmentationDataset(cache, every=0)


def test_docstring_examples():
    assert doctest.testmod(cache_module, raise_on_error=True).attempted > 0
