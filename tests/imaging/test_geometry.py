import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from totalseg.imaging.crop import crop, margin_in_voxels, mask_bbox, uncrop
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.resample import header_zooms, resample_to_shape, resample_to_spacing
from totalseg.imaging.volume import LabelVolume, Volume


def oblique_affine(zooms=(1.2, 0.8, 2.5), angle=0.3, flips=(-1, -1, 1)):
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag(np.array(zooms) * flips)
    aff[:3, 3] = [12, -40, 7]
    return aff


@pytest.mark.parametrize("affine", [np.diag([-1.0, -2, 3, 1]), np.diag([-1.5, 1.5, 1.5, 1]), oblique_affine(),
                                    oblique_affine(angle=1.2, flips=(1, -1, -1))])
def test_canonical_matches_nibabel_and_round_trips(affine):
    arr = np.random.default_rng(0).integers(0, 100, (5, 6, 7)).astype(np.int16)
    vol = Volume(arr, affine=affine)
    ras, how = to_canonical(vol)
    ref = nib.as_closest_canonical(nib.Nifti1Image(arr, affine))
    assert np.array_equal(ras.array, np.asanyarray(ref.dataobj))
    np.testing.assert_allclose(ras.affine, ref.affine)
    back = how.undo(LabelVolume(ras.array, affine=ras.affine))
    assert np.array_equal(back.array, arr)
    np.testing.assert_array_equal(back.affine, affine)


def test_resample_is_scipy_zoom_with_header_zooms():
    arr = np.random.default_rng(1).normal(0, 100, (20, 17, 9))
    vol = Volume(arr, affine=np.diag([1.5, 1.7, 3.3, 1.0]))
    out = resample_to_spacing(vol, spacing_mm=3.0)
    zoom = header_zooms(vol.affine) / 3.0
    ref = ndimage.zoom(arr, zoom, mode="nearest", order=1).astype(np.int32)
    assert out.array.dtype == np.int32 and np.array_equal(out.array, ref)
    np.testing.assert_allclose(out.spacing_mm, np.array([1.5, 1.7, 3.3]) / zoom)


def test_resample_skipped_when_spacing_matches():
    vol = Volume(np.zeros((3, 3, 3), np.float64), affine=np.diag([3.0, 3.0, 3.0, 1.0]))
    assert resample_to_spacing(vol, spacing_mm=3.0) is vol


def test_labels_back_to_shape_use_nearest():
    labels = LabelVolume(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), affine=np.diag([3.0, 3, 3, 1]))
    out = resample_to_shape(labels, shape=(4, 4, 4), affine=np.diag([1.5, 1.5, 1.5, 1]))
    assert out.array.dtype == np.uint8 and set(np.unique(out.array)) == set(range(8))
    assert out.array[0, 0, 0] == 0 and out.array[3, 3, 3] == 7
    np.testing.assert_array_equal(out.affine, np.diag([1.5, 1.5, 1.5, 1]))


def test_crop_keeps_world_positions_and_uncrop_restores():
    arr = np.arange(10 * 11 * 12).reshape(10, 11, 12)
    vol = Volume(arr, affine=oblique_affine())
    box = (slice(2, 5), slice(3, 9), slice(0, 4))
    part = crop(vol, box, dtype=np.int32)
    assert part.array.dtype == np.int32
    np.testing.assert_allclose(part.affine @ [0, 0, 0, 1], vol.affine @ [2, 3, 0, 1])
    full = uncrop(part, box, like=vol)
    assert np.array_equal(full.array[box], arr[box]) and full.array.sum() == arr[box].sum()


def test_mask_bbox_margin_and_empty():
    m = np.zeros((10, 10, 10))
    assert mask_bbox(m) is None
    m[0, 5, 9] = 1
    assert mask_bbox(m, margin_vox=(2, 2, 2)) == (slice(0, 3), slice(3, 8), slice(7, 10))
    assert margin_in_voxels(np.diag([0.75, 0.75, 1.25, 1]), (20, 20, 20)) == (26, 26, 16)


def test_volume_checks_inputs():
    with pytest.raises(ValueError, match="4x4"):
        Volume(np.zeros((2, 2, 2)), affine=np.eye(3))
    with pytest.raises(ValueError, match="3-D"):
        Volume(np.zeros((2, 2)), affine=np.eye(4))


@pytest.mark.parametrize("shape_in, shape_out", [((7, 5, 3), (20, 11, 9)), ((40, 33, 12), (13, 100, 12)),
                                                 ((1, 9, 4), (5, 2, 1))])
def test_nearest_resampling_equals_ndimage_zoom_order0(shape_in, shape_out):
    arr = np.random.default_rng(0).integers(0, 118, shape_in).astype(np.uint8)
    out = resample_to_shape(LabelVolume(arr, affine=np.eye(4)), shape=shape_out, affine=np.eye(4))
    ref = ndimage.zoom(arr.astype(np.float64), np.array(shape_out) / np.array(shape_in), order=0, mode="nearest")
    assert out.array.shape == shape_out and np.array_equal(out.array, ref.astype(np.uint8))
    assert out.array.flags.f_contiguous  # what the NIfTI writers read without a copy


@pytest.mark.parametrize("layout", ["C", "F"])  # nibabel loads NIfTI Fortran-ordered
def test_zoom_from_int16_equals_zoom_of_float64_copy(layout):
    arr = np.random.default_rng(2).integers(-1024, 2000, (31, 27, 13)).astype(np.int16)
    arr = np.asfortranarray(arr) if layout == "F" else arr
    vol = Volume(arr, affine=np.diag([0.8, 0.9, 2.5, 1.0]))
    ref = ndimage.zoom(arr.astype(np.float64), header_zooms(vol.affine) / 3.0, mode="nearest", order=1)
    assert np.array_equal(resample_to_spacing(vol, spacing_mm=3.0).array, ref.astype(np.int32))
