"""The official task flows on the real CT with tiny seeded weights: which rough model each crop rule
runs, the nested and refining runs, auxiliary labels, empty crops, --fast refusals, single-model ids.
(Identity with the official tool over every open task: benchmarks/task_parity.py.)"""

import numpy as np
import pytest

from totalseg.engine.pipeline import RunOptions
from totalseg.engine.segment import SegmentRequest, needed_models, segment_volume
from totalseg.errors import InputError
from totalseg.imaging.volume import Volume
from totalseg.models.model import load_model
from totalseg.models.store import WeightsStore
from totalseg.models.tasks import get_task


@pytest.fixture(scope="module")
def recording_load(tiny_weights):
    store = WeightsStore(tiny_weights)
    calls = []

    def load(spec):
        calls.append(spec.model_id)
        return load_model(store.model_dir(spec))

    load.calls = calls
    return load


@pytest.fixture(scope="module")
def block(ct_small):
    """12 x 12 x 8 voxels (3 mm) of the real CT: small enough for the 0.5 mm tasks."""
    return Volume(ct_small.array[54:66, 44:56, 11:19], affine=ct_small.affine, header=ct_small.header)


@pytest.mark.parametrize(("task", "robust", "models"), [
    ("lung_vessels", False, [297, 117]),  # robust by its own rule: the 3 mm rough model
    ("cerebral_bleed", False, [298, 150]),
    ("cerebral_bleed", True, [297, 150]),  # --robust_crop
    ("liver_segments_mr", False, [852, 576]),  # MR tasks crop with total_mr at 3 mm
    ("abdominal_muscles", False, [300, 952]),  # body classes: the 6 mm body model
    ("teeth", False, [298, 115, 113]),  # a nested task: craniofacial_structures, itself cropped
    ("vertebrae_pp_refined", False, [305, 803]),  # vertebrae_body first, for the refinement
    ("headneck_muscles", False, [298, 778, 779]),
    ("breasts", False, [527]),
])
def test_each_rule_runs_the_official_models_in_order(task, robust, models, block, recording_load, monkeypatch):
    from totalseg.engine import segment as flow

    def central_box(labels, task, names):  # the random rough models may miss the crop classes: a fixed crop
        mask = np.zeros(labels.array.shape, bool)
        mask[4:8, 4:8, 3:5] = True
        return mask

    monkeypatch.setattr(flow, "_mask_of", central_box)
    request = SegmentRequest(get_task(task), robust_crop=robust)
    assert [m.model_id for m in needed_models(request)] == models
    recording_load.calls.clear()
    labels = segment_volume(block, request, recording_load)
    assert list(dict.fromkeys(recording_load.calls)) == models
    assert labels.array.shape == block.shape and labels.array.dtype == np.uint8


def test_an_empty_crop_gives_empty_labels_without_running_the_task(block, recording_load, monkeypatch):
    from totalseg.engine import segment as flow

    monkeypatch.setattr(flow, "_mask_of", lambda labels, task, names: np.zeros(labels.array.shape, bool))
    recording_load.calls.clear()
    labels = segment_volume(block, SegmentRequest(get_task("liver_vessels")), recording_load)
    assert not labels.array.any() and set(recording_load.calls) == {298}


def test_auxiliary_labels_are_removed_and_single_models_keep_their_ids(block, tiny_weights):
    """kidney_cysts' model predicts kidneys (3, 4) to help itself: the output holds only 1 and 2."""
    store = WeightsStore(tiny_weights)
    load = lambda spec: load_model(store.model_dir(spec))  # noqa: E731
    task = get_task("kidney_cysts")
    assert task.aux_labels == (3, 4) and set(task.classes) == {1, 2}
    raw = segment_volume(block, SegmentRequest(task.__class__(**{**task.__dict__, "aux_labels": ()})), load)
    cleaned = segment_volume(block, SegmentRequest(task), load)
    assert {3, 4} & set(np.unique(raw.array)), "the seeded model never predicts an auxiliary label"
    assert set(np.unique(cleaned.array)) <= {0, 1, 2}
    keep = ~np.isin(raw.array, [3, 4])
    assert np.array_equal(cleaned.array[keep], raw.array[keep])


def test_fast_is_refused_where_the_official_tool_refuses_it_and_ignored_elsewhere():
    with pytest.raises(InputError, match="^task cerebral_bleed does not work with option --fast$"):
        get_task("cerebral_bleed", "fast")
    assert get_task("lung_vessels", "fast").models == get_task("lung_vessels").models
    assert get_task("vertebrae_mr", "fastest").models[0].model_id == 756
    assert get_task("body", "fastest").models[0].model_id == 300  # fastest falls back to fast


def test_total_v3_small_runs_the_resenc_plans():
    big, small = get_task("total_v3", "fast"), get_task("total_v3", "fast", model_size="small")
    assert big.models[0].model_subdir.endswith("__nnUNetPlans__3d_fullres")
    assert small.models[0].model_subdir.endswith("__nnUNetResEncUNetLPlans_8__3d_fullres")
    assert get_task("total_v3").classes[26] == "vertebrae_L6"
    assert get_task("total_v3").models[1].labels[2] == "vertebrae_L6"


def test_fold_ensembles_and_configurations_are_in_the_specs():
    assert get_task("pleural_pericard_effusion").models[0].folds is None  # every fold found
    assert get_task("aorta_annulus").models[0].folds == ("0", "1", "2", "3", "4")
    assert get_task("teeth").models[0].configuration == "3d_lowres_high"
    assert get_task("liver_lesions").models[0].configuration == "3d_fullres_high"


def test_run_options_reach_the_rough_run(block, recording_load):
    request = SegmentRequest(get_task("hip_implant"), options=RunOptions(resampling_order=0))
    labels = segment_volume(block, request, recording_load)
    assert labels.array.shape == block.shape


def test_remove_small_blobs_cleans_the_task_not_the_crop_run(block, tiny_weights, monkeypatch):
    """--remove_small_blobs runs on the model grid with the official float32 voxel volume, for the task only."""
    from totalseg.engine import pipeline

    store = WeightsStore(tiny_weights)
    load = lambda spec: load_model(store.model_dir(spec))  # noqa: E731
    seen = []
    original = pipeline.remove_small_blobs_per_label

    def spy(labels, ids, *, min_voxels):
        seen.append((len(list(ids)), float(min_voxels), min_voxels.dtype))
        return original(labels, ids, min_voxels=min_voxels)

    monkeypatch.setattr(pipeline, "remove_small_blobs_per_label", spy)
    task = get_task("lung_vessels")  # cropped with the 3 mm total model first
    plain = segment_volume(block, SegmentRequest(task), load)
    assert seen == [] and plain.array.any()
    cleaned = segment_volume(block, SegmentRequest(task, remove_small_blobs_mm3=1e9), load)
    voxel = np.prod(np.float32(task.spacing_mm))  # the model grid's float32 voxel volume
    assert seen == [(4, pytest.approx(1e9 / voxel), np.float32)]  # once: the task, not the rough run
    assert not cleaned.array.any()  # every component is smaller than 1e9 mm3


def test_v1_order_renumbers_by_name():
    from totalseg.anatomy.class_maps import class_map
    from totalseg.anatomy.v1_order import reorder_like_v1
    from totalseg.imaging.volume import LabelVolume

    total, v1 = class_map("total"), class_map("total_v1")
    ids = np.array(sorted(total), np.uint8).reshape(1, 1, -1)
    out, names = reorder_like_v1(LabelVolume(ids, affine=np.eye(4)), total)
    assert names == v1
    for v2_id, v1_id in zip(ids.ravel(), out.array.ravel()):
        assert (v1.get(int(v1_id)) == total[int(v2_id)]) if v1_id else total[int(v2_id)] not in v1.values()
