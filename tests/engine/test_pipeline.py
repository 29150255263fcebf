"""End-to-end runs of the official pipeline on the real CT with tiny seeded random weights."""

import numpy as np
import pytest

from totalseg.engine.pipeline import RunOptions, needs_split, run_task, split_slabs
from totalseg.engine.segment import SegmentRequest, models_for_roi, segment_volume
from totalseg.imaging.volume import Volume
from totalseg.models.model import load_model
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import get_task


@pytest.fixture(scope="module")
def load(tiny_weights):
    store = WeightsStore(tiny_weights)
    return lambda spec: load_model(store.model_dir(spec))


def test_fast_task_on_real_ct(ct_small, load):
    labels = run_task(ct_small, get_task("total", "fast"), load)
    assert labels.array.shape == ct_small.shape and labels.array.dtype == np.uint8
    assert len(np.unique(labels.array)) > 10
    np.testing.assert_array_equal(labels.affine, ct_small.affine)
    again = run_task(ct_small, get_task("total", "fast"), load)
    assert np.array_equal(labels.array, again.array)


def test_orientation_does_not_change_the_masks(ct_small, load):
    """The same image stored LPS gives the same masks, flipped back into LPS storage."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[0, 3], flip[1, 3] = ct_small.shape[0] - 1, ct_small.shape[1] - 1
    lps = Volume(ct_small.array[::-1, ::-1, :], affine=ct_small.affine @ flip)
    ras_labels = run_task(ct_small, get_task("total", "fast"), load).array
    lps_labels = run_task(lps, get_task("total", "fast"), load).array
    assert np.array_equal(lps_labels[::-1, ::-1, :], ras_labels)


def test_parts_merge_in_model_order(ct_small, load):
    task = get_task("total")
    small = Volume(ct_small.array[30:80, 20:70, 5:25], affine=ct_small.affine)
    merged = run_task(small, task, load).array
    manual = np.zeros_like(merged)
    for spec in task.models:
        part = run_task(small, task, load, only_models=[spec.model_id]).array
        manual[part != 0] = part[part != 0]
    assert np.array_equal(merged, manual)
    assert merged.max() > 100  # ribs (part 295, ids up to 117) are in


class RecordedProgress:
    def __init__(self):
        self.passes = []  # [what, tiles announced, tiles done]

    def begin(self, what, tiles):
        self.passes.append([what, tiles, 0])

    def tile(self):
        self.passes[-1][2] += 1


def test_progress_announces_each_pass_with_its_tiles(ct_small, load, make_phantom):
    small = Volume(ct_small.array[30:80, 20:70, 5:25], affine=ct_small.affine)
    progress = RecordedProgress()
    run_task(small, get_task("total"), load, progress=progress)
    assert [p[0] for p in progress.passes] == [f"total part {i}/5" for i in range(1, 6)]
    assert all(announced == done > 0 for _, announced, done in progress.passes)

    tall = Volume(make_phantom((40, 36, 70)), affine=np.diag([3.0, 3.0, 3.0, 1.0]))
    progress = RecordedProgress()
    run_task(tall, get_task("total", "fast"), load, options=RunOptions(force_split=True), progress=progress)
    assert [p[0] for p in progress.passes] == [f"total fast, slab {i}/3" for i in range(1, 4)]
    assert all(announced == done > 0 for _, announced, done in progress.passes)


def test_roi_subset_keeps_only_roi_classes(ct_small, load):
    task = get_task("total", "fast")
    roi = ("liver", "spleen", "aorta")
    request = SegmentRequest(task, roi_subset=roi)
    labels = segment_volume(ct_small, request, load).array
    assert set(np.unique(labels)) <= {0, 5, 1, 52}
    assert set(request.output_classes.values()) == set(roi)


def test_roi_subset_runs_only_needed_parts():
    assert models_for_roi(get_task("total"), ["liver", "vertebrae_L1"]) == [291, 292]
    assert models_for_roi(get_task("total"), ["rib_left_1"]) == [295]


def test_empty_crop_gives_empty_labels(ct_small, load):
    labels = run_task(ct_small, get_task("total", "fast"), load, crop_mask=np.zeros(ct_small.shape, bool))
    assert labels.array.shape == ct_small.shape and labels.array.max() == 0


def test_body_seg_crops_before_the_task(ct_small, load):
    """The task runs on the body's bounding box (3 mm margin, 1 voxel here) alone: outside it nothing,
    inside what the task gives for that crop as an image of its own."""
    labels = segment_volume(ct_small, SegmentRequest(get_task("total", "fast"), body_seg=True), load)
    body = run_task(ct_small, get_task("body", "fast"), load).array > 0
    box = tuple(slice(max(0, int(np.flatnonzero(body.any(axis=tuple(a for a in range(3) if a != ax)))[0]) - 1),
                      int(np.flatnonzero(body.any(axis=tuple(a for a in range(3) if a != ax)))[-1]) + 2)
                for ax in range(3))
    assert box != tuple(slice(0, n) for n in ct_small.shape)  # the crop really crops
    crop_affine = ct_small.affine.copy()
    crop_affine[:3, 3] = (ct_small.affine @ [box[0].start, box[1].start, box[2].start, 1])[:3]
    alone = run_task(Volume(ct_small.array[box].astype(np.int32), affine=crop_affine), get_task("total", "fast"),
                     load).array
    expected = np.zeros(ct_small.shape, np.uint8)
    expected[box] = alone
    assert np.array_equal(labels.array, expected) and len(np.unique(alone)) > 3


def test_forced_split_runs_three_slabs(load, make_phantom):
    vol = Volume(make_phantom((40, 36, 70)), affine=np.diag([3.0, 3.0, 3.0, 1.0]))
    task = get_task("total", "fast")
    whole = run_task(vol, task, load).array
    split = run_task(vol, task, load, options=RunOptions(force_split=True)).array
    assert split.shape == vol.shape and len(np.unique(split)) > 5
    assert not np.array_equal(split, whole)  # slabs are predicted on their own, as the official tool does
    expected = np.zeros(vol.shape, np.uint8)  # each slab as an image of its own, its margins dropped
    for source, keep, target in split_slabs(vol.shape[2]):
        affine = vol.affine.copy()
        affine[:3, 3] = (vol.affine @ [0, 0, source.start, 1])[:3]
        expected[:, :, target] = run_task(Volume(vol.array[:, :, source], affine=affine), task, load).array[:, :, keep]
    assert np.array_equal(split, expected)
    with pytest.warns(UserWarning, match="too thin"):
        assert not needs_split((50, 50, 59), task, True)


def test_split_slabs_cover_every_slice_once():
    for depth in (61, 240, 901):
        out = np.zeros(depth, int)
        for source, keep, target in split_slabs(depth):
            kept = np.arange(depth)[source][keep]
            assert np.array_equal(kept, np.arange(depth)[target])  # each slab keeps its own slices
            assert source.start <= target.start - 19 or source.start == 0  # 20-slice margins, official rule
            out[target] += 1
        assert (out == 1).all()
    assert needs_split((512, 512, 901), get_task("total"), False)
    assert not needs_split((512, 512, 901), get_task("total", "fast"), False)


def test_official_297_layout_on_real_ct(ct_small, tmp_path):
    """The real model-297 network layout (5 stages, 112x112x128 patch, 118 outputs) end to end."""
    from totalseg.models.synthetic import write_random_weights

    folder = write_random_weights(tmp_path, [297])[0]
    model = load_model(folder)
    assert model.config.patch_size == (112, 112, 128) and model.config.num_outputs == 118
    labels = run_task(ct_small, get_task("total", "fast"), lambda spec: model).array
    assert labels.shape == ct_small.shape and len(np.unique(labels)) > 3
