import numpy as np
import pytest

from totalseg.engine.preprocess import logits_to_labels, preprocess, restore
from totalseg.errors import WeightsError
from totalseg.models.plans import ModelConfig
from totalseg.models.readers import READERS, reader_order
from totalseg.models.synthetic import TINY, dataset_json, legacy_plans
from totalseg.models.tasks import get_task


def config(modality="ct", use_mask=False, reader="SimpleITKIO", transpose=(0, 1, 2), spacing=(3.0, 3.0, 3.0)):
    spec = get_task("total", "fast").models[0]
    plans = legacy_plans(spec, TINY, modality=modality)
    plans["image_reader_writer"] = reader
    plans["transpose_forward"] = list(transpose)
    plans["transpose_backward"] = [list(transpose).index(i) for i in range(3)]
    plans["configurations"]["3d_fullres"]["use_mask_for_norm"] = [use_mask]
    plans["configurations"]["3d_fullres"]["spacing"] = list(spacing)
    return ModelConfig.from_dicts(plans, dataset_json(spec, modality=modality))


def test_ct_normalization_by_hand():
    image = np.zeros((6, 5, 4), np.int32)
    image[2:5, 1:4, 1:3] = np.array([-2000, 0, 3000])[:, None, None]
    pre = preprocess(image, (3.0, 3.0, 3.0), config())
    assert pre.shape == (6, 5, 4) and not pre.resampled
    assert pre.bbox == (slice(2, 5), slice(1, 4), slice(1, 3))
    values = pre.data[0].numpy()
    expected = (np.float32(np.clip([-2000, 0, 3000], -1004.0, 1588.0)) - np.float32(-50.387)) / np.float32(503.392)
    np.testing.assert_array_equal(values[:, 0, 0], expected.astype(np.float32))


@pytest.mark.parametrize("transpose", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0)])
def test_restore_inverts_transpose_and_crop(transpose):
    image = np.zeros((7, 6, 5), np.int32)
    image[2:5, 1:3, 1:4] = 100
    cfg = config(transpose=transpose)
    pre = preprocess(image, (3.0, 3.0, 3.0), cfg)
    assert pre.shape == tuple(image.shape[i] for i in transpose)
    labels = np.arange(np.prod(pre.data.shape[1:]), dtype=np.uint8).reshape(pre.data.shape[1:])
    back = restore(labels, pre, cfg)
    assert back.shape == image.shape
    expected = np.zeros(pre.shape, np.uint8)
    expected[pre.bbox] = labels
    assert np.array_equal(back, expected.transpose(cfg.transpose_backward))
    assert np.array_equal(back[2:5, 1:3, 1:4].transpose(transpose), labels)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_nnunet_reader_reverses_the_stored_axes(reader):
    """nnU-Net's SimpleITK and nibabel readers all hand over (Z, Y, X); the nibabel ones transpose
    (2, 1, 0) on purpose. Plans' patch size and spacing refer to that order."""
    array = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    assert np.array_equal(reader_order(array, reader), array.transpose(2, 1, 0))


@pytest.mark.parametrize("reader", ["Tiff3DIO", "NaturalImage2DIO", "MyReader"])
def test_readers_we_do_not_run_are_refused(reader):
    spec = get_task("total", "fast").models[0]
    plans = legacy_plans(spec, TINY, modality="ct")
    plans["image_reader_writer"] = reader
    with pytest.raises(WeightsError, match=f"image_reader_writer '{reader}' is not supported"):
        ModelConfig.from_dicts(plans, dataset_json(spec, modality="ct"))


def test_images_off_the_plans_spacing_are_resampled_and_the_logits_come_back():
    image = np.zeros((10, 12, 14), np.int16)
    image[1:9, 2:10, 3:11] = 200
    cfg = config(spacing=(3.0, 3.0, 3.0))
    pre = preprocess(image, (1.5, 1.5, 6.0), cfg)
    assert pre.cropped_shape == (8, 8, 8) and pre.resampled
    assert tuple(pre.data.shape[1:]) == (4, 4, 16)
    logits = np.zeros((3, 4, 4, 16), np.float16)
    logits[2] = 1.0
    labels = logits_to_labels(logits, pre, cfg)
    assert labels.shape == (8, 8, 8) and labels.dtype == np.uint8 and (labels == 2).all()


@pytest.mark.parametrize("use_mask", [False, True])
def test_zscore(use_mask):
    rng = np.random.default_rng(0)
    image = np.zeros((10, 10, 10), np.float64)
    image[2:8, 2:8, 2:8] = rng.normal(300, 50, (6, 6, 6))
    image[4, 4, 4] = 0  # a hole inside the body: filled, so it counts as inside for the mask
    out = preprocess(image, (3.0, 3.0, 3.0), config("mr", use_mask=use_mask)).data[0].numpy()
    inside = image[2:8, 2:8, 2:8].astype(np.float32)
    ref = (inside - inside.mean()) / max(inside.std(), 1e-8)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_all_zero_image_is_not_cropped():
    pre = preprocess(np.zeros((6, 5, 4)), (3.0, 3.0, 3.0), config())
    assert pre.bbox == (slice(0, 6), slice(0, 5), slice(0, 4))
