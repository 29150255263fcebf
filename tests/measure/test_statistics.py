"""statistics.json: hand-computed values and the official 2.18.0 computation on the same arrays."""

import doctest
import json

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy import class_map
from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure import statistics as statistics_module
from totalseg.measure.statistics import compute_statistics, image_as_int16, write_statistics


def official_statistics(seg, ct_img, classes, exclude_masks_at_border=True, metric="mean", extra_metrics=False):
    """Transcription of totalsegmentator.statistics.get_basic_statistics (2.18.0), numpy only.

    Run against the official function itself on the ``ct_and_labels`` fixture (border rule on/off x
    mean/median x extra metrics on/off): all 8 JSON texts identical.
    """

    def touches_border(mask):
        if np.any(mask[:3, :, :]) or np.any(mask[-3:, :, :]):
            return True
        if np.any(mask[:, :3, :]) or np.any(mask[:, -3:, :]):
            return True
        return bool(np.any(mask[:, :, :3]) or np.any(mask[:, :, -3:]))

    def empty_extra(target):
        target.update(n_voxels=0, intensity_std=0.0, intensity_min=0.0, intensity_max=0.0,
                      centroid_vox=None, bbox_vox=None)

    ct = ct_img.get_fdata().astype(np.int16)
    spacing = ct_img.header.get_zooms()
    vox_vol = spacing[0] * spacing[1] * spacing[2]
    stats = {}
    for k, mask_name in classes.items():
        stats[mask_name] = {}
        data = seg == k
        if touches_border(data) and exclude_masks_at_border:
            stats[mask_name]["volume"] = 0.0
            stats[mask_name]["intensity"] = 0.0
            if extra_metrics:
                empty_extra(stats[mask_name])
        else:
            stats[mask_name]["volume"] = data.sum() * vox_vol
            roi_mask = (data > 0).astype(np.uint8)
            if metric == "mean":
                stats[mask_name]["intensity"] = np.average(ct, weights=roi_mask).round(5) if roi_mask.sum() > 0 else 0.0
            else:
                stats[mask_name]["intensity"] = np.median(ct[roi_mask > 0]).round(5) if roi_mask.sum() > 0 else 0.0
            if extra_metrics:
                idx = np.argwhere(data)
                if idx.shape[0] == 0:
                    empty_extra(stats[mask_name])
                    continue
                vals = ct[data]
                stats[mask_name].update(
                    n_voxels=int(idx.shape[0]), intensity_std=float(np.std(vals).round(5)),
                    intensity_min=float(vals.min()), intensity_max=float(vals.max()),
                    centroid_vox=[round(float(c), 2) for c in idx.mean(axis=0)],
                    bbox_vox=[[int(idx[:, a].min()), int(idx[:, a].max())] for a in range(idx.shape[1])])
    return stats


@pytest.fixture(scope="module")
def ct_and_labels(ct_small_path):
    """The real CT and a label map of all 117 classes: HU bands, random blobs, some at the border."""
    img = nib.load(ct_small_path)
    ct = np.asanyarray(img.dataobj)
    rng = np.random.default_rng(1)
    labels = np.zeros(ct.shape, np.uint8)
    bands = np.linspace(-1000, 1200, 40)
    for i in range(39):
        labels[(ct >= bands[i]) & (ct < bands[i + 1]) & (rng.random(ct.shape) < 0.5)] = i + 1
    for k in range(40, 118, 2):  # small boxes, some within 3 voxels of a border
        x, y, z = rng.integers(0, 115), rng.integers(0, 95), rng.integers(0, 26)
        labels[x:x + 6, y:y + 5, z:z + 4] = k
    return img, labels


def test_equals_official_on_real_ct(ct_and_labels):
    img, labels = ct_and_labels
    classes = class_map("total")
    ours = compute_statistics(Volume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header),
                              LabelVolume(labels, affine=img.affine), classes)
    official = official_statistics(labels, img, classes)
    assert json.dumps(ours, indent=4) == json.dumps(official, indent=4)
    assert sum(v["volume"] > 0 for v in ours.values()) > 25  # the comparison covers measured classes
    assert sum(v["volume"] == 0 for v in ours.values()) > 10  # and border/empty ones


@pytest.mark.parametrize("metric", ["mean", "median"])
def test_extra_and_incomplete_equal_official(ct_and_labels, metric):
    img, labels = ct_and_labels
    classes = {k: v for k, v in class_map("total").items() if k % 3 == 0}  # a subset, as with roi_subset
    ours = compute_statistics(Volume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header),
                              LabelVolume(labels, affine=img.affine), classes, include_incomplete=True,
                              extra=True, aggregation=metric)
    official = official_statistics(labels, img, classes, exclude_masks_at_border=False, metric=metric,
                                   extra_metrics=True)
    assert list(ours) == list(official)
    for name, ref in official.items():
        assert {k: ours[name][k] for k in ref} == ref  # the official keys, same values
        assert list(ours[name])[: len(ref)] == list(ref)  # and order; ours follow


def test_scaled_float_image_equals_official():
    """A float image with non-integral scaling: truncation towards zero as get_fdata().astype(int16)."""
    rng = np.random.default_rng(2)
    raw = rng.integers(-1200, 1500, (20, 18, 16)).astype(np.int16)
    img = nib.Nifti1Image(raw, np.diag([0.7, 0.8, 2.5, 1.0]))
    img.header.set_slope_inter(0.37, -3.3)
    img = nib.Nifti1Image.from_bytes(img.to_bytes())
    labels = np.zeros(raw.shape, np.uint8)
    labels[5:12, 4:10, 4:12] = 1
    labels[3:8, 9:14, 3:6] = 2
    vol = Volume(img.get_fdata(), affine=img.affine, header=img.header)
    ours = compute_statistics(vol, LabelVolume(labels, affine=img.affine), {1: "a", 2: "b", 3: "c"}, extra=True)
    ref = official_statistics(labels, img, {1: "a", 2: "b", 3: "c"}, extra_metrics=True)
    for name in ref:
        assert {k: ours[name][k] for k in ref[name]} == ref[name]


def test_hand_computed_values(tmp_path):
    image = np.full((20, 20, 20), -100, np.int16)
    image[5:9, 5:10, 5:11] = 50
    image[5, 5, 5] = 80  # one brighter voxel in structure 1
    labels = np.zeros(image.shape, np.uint8)
    labels[5:9, 5:10, 5:11] = 1  # 4 x 5 x 6 = 120 voxels
    labels[0:4, 10:12, 10:12] = 2  # touches the x border
    affine = np.diag([1.5, 1.5, 3.0, 1.0])
    affine[:3, 3] = (10.0, -20.0, 30.0)
    vol, lab = Volume(image, affine=affine), LabelVolume(labels, affine=affine)
    stats = compute_statistics(vol, lab, {3: "empty", 1: "organ", 2: "cut"}, extra=True)
    assert list(stats) == ["empty", "organ", "cut"]
    organ = stats["organ"]
    assert organ["volume"] == 120 * 6.75
    assert organ["intensity"] == round((119 * 50 + 80) / 120, 5) == 50.25
    assert organ["n_voxels"] == 120 and organ["intensity_min"] == 50.0 and organ["intensity_max"] == 80.0
    assert organ["intensity_median"] == 50.0
    assert organ["centroid_vox"] == [6.5, 7.0, 7.5]
    assert organ["bbox_vox"] == [[5, 8], [5, 9], [5, 10]]
    assert organ["centroid_mm"] == [10 + 6.5 * 1.5, -20 + 7 * 1.5, 30 + 7.5 * 3]
    assert organ["bbox_mm"] == [[17.5, 22.0], [-12.5, -6.5], [45.0, 60.0]]
    assert stats["cut"]["volume"] == 0.0 and stats["cut"]["intensity"] == 0.0 and stats["cut"]["n_voxels"] == 0
    assert stats["empty"] == {**stats["empty"], "volume": 0.0, "intensity": 0.0, "centroid_mm": None}
    incomplete = compute_statistics(vol, lab, {2: "cut"}, include_incomplete=True)
    assert incomplete == {"cut": {"volume": 16 * 6.75, "intensity": -100.0}}
    path = write_statistics(stats, tmp_path / "statistics.json")
    assert json.loads(path.read_text()) == stats
    assert not path.read_text().endswith("\n")  # json.dump writes no trailing newline


def test_image_as_int16_matches_numpy_cast():
    values = np.array([-1024.9, -0.5, 0.5, 3.99, 32767.0, 1207.2]).reshape(1, 2, 3)
    np.testing.assert_array_equal(image_as_int16(values), values.astype(np.int16))
    np.testing.assert_array_equal(image_as_int16(values.astype(np.float32)), values.astype(np.int16))


def test_bad_inputs():
    vol = Volume(np.zeros((4, 4, 4), np.int16), affine=np.eye(4))
    with pytest.raises(InputError, match="differ in shape"):
        compute_statistics(vol, LabelVolume(np.zeros((4, 4, 5), np.uint8), affine=np.eye(4)), {1: "a"})
    with pytest.raises(InputError, match="aggregation"):
        compute_statistics(vol, LabelVolume(np.zeros((4, 4, 4), np.uint8), affine=np.eye(4)), {1: "a"},
                           aggregation="max")


def test_docstring_examples():
    assert doctest.testmod(statistics_module).failed == 0
