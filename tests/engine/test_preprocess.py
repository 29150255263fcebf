import numpy as np
import pytest

from totalseg.engine.preprocess import preprocess, restore
from totalseg.models.plans import ModelConfig
from totalseg.models.synthetic import TINY, dataset_json, legacy_plans
from totalseg.models.tasks import get_task


def config(modality="ct", use_mask=False, reader="SimpleITKIO"):
    spec = get_task("total", "fast").models[0]
    plans = legacy_plans(spec, TINY, modality=modality)
    plans["image_reader_writer"] = reader
    plans["configurations"]["3d_fullres"]["use_mask_for_norm"] = [use_mask]
    return ModelConfig.from_dicts(plans, dataset_json(spec, modality=modality))


def test_ct_normalization_by_hand():
    arr = np.zeros((4, 5, 6), np.int32)
    arr[1:3, 1:4, 2:5] = [[[-2000, 0, 3000]]]
    pre = preprocess(arr, config())
    # SimpleITK order (Z, Y, X) and cropped to the non-zero box
    assert pre.shape == (6, 5, 4)
    assert pre.bbox == (slice(2, 5), slice(1, 4), slice(1, 3))
    values = pre.data[0].numpy()
    expected = (np.float32(np.clip([-2000, 0, 3000], -1004.0, 1588.0)) - np.float32(-50.387)) / np.float32(503.392)
    np.testing.assert_array_equal(values[:, 0, 0], expected.astype(np.float32))


def test_restore_inverts_order_and_crop():
    arr = np.zeros((7, 6, 5), np.int32)
    arr[2:5, 1:3, 1:4] = 100
    pre = preprocess(arr, config())
    labels = np.arange(np.prod(pre.data.shape[1:]), dtype=np.uint8).reshape(pre.data.shape[1:])
    back = restore(labels, pre, config())
    assert back.shape == arr.shape
    assert np.array_equal(back[2:5, 1:3, 1:4], labels.transpose(2, 1, 0))
    assert back.sum() == labels.sum()


def test_nibabel_reader_keeps_axis_order():
    arr = np.ones((7, 6, 5), np.int32)
    pre = preprocess(arr, config(reader="NibabelIO"))
    assert tuple(pre.data.shape) == (1, 7, 6, 5)


@pytest.mark.parametrize("use_mask", [False, True])
def test_zscore(use_mask):
    rng = np.random.default_rng(0)
    arr = np.zeros((10, 10, 10), np.float64)
    arr[2:8, 2:8, 2:8] = rng.normal(300, 50, (6, 6, 6))
    arr[4, 4, 4] = 0  # a hole inside the body: filled, so it counts as inside for the mask
    out = preprocess(arr, config("mr", use_mask=use_mask)).data[0].numpy()
    inside = arr[2:8, 2:8, 2:8].transpose(2, 1, 0).astype(np.float32)
    ref = (inside - inside.mean()) / max(inside.std(), 1e-8)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_all_zero_image_is_not_cropped():
    pre = preprocess(np.zeros((4, 5, 6)), config())
    assert pre.bbox == (slice(0, 6), slice(0, 5), slice(0, 4))
