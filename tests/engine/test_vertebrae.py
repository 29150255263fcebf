"""Known answers for the vertebrae_pp post-processing on tiny hand-built columns.

The official outputs themselves are in test_postprocess_official.py; these cases say in words what
the rules are: bodies are numbered by their z-centroids, from the bottom with the highest present
id unless C1 is present and L5 is not, and labels grow back into the background only.
"""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.engine.vertebrae import (
    ellipsoid_kernel,
    labels_touch,
    postprocess_vertebrae_pp,
    refine_vertebrae_pp,
    regrow_labels,
    renumber_vertebrae,
    voxel_volume_mm3,
)

NAMES = {i + 1: f"vertebrae_{n}" for i, n in enumerate(
    [f"C{k}" for k in range(1, 8)] + [f"T{k}" for k in range(1, 13)] + [f"L{k}" for k in range(1, 6)])}
ONE_MM = (1.0, 1.0, 1.0)


def column(*bodies: tuple[int, int, int]) -> np.ndarray:
    """A 3 x 3 x 30 column: each body (z_start, z_stop, label) a 3 x 3 slab range along z."""
    out = np.zeros((3, 3, 30), np.uint8)
    for start, stop, label in bodies:
        out[:, :, start:stop] = label
    return out


def body_ids(labels: np.ndarray) -> list[int]:
    """The label of each body from the bottom (z = 0) up, one entry per run of non-zero slices."""
    ids, previous = [], 0
    for value in labels[1, 1, :]:
        if value and value != previous:
            ids.append(int(value))
        previous = value
    return ids


def test_two_touching_labels_are_split_by_z_centroid_and_numbered_from_the_bottom():
    # bottom body half 8 and half 7 (the labels touch), then two bodies labelled 8 above it
    labels = column((0, 2, 8), (2, 4, 7), (6, 10, 8), (12, 16, 8))
    assert labels_touch(labels)
    out = postprocess_vertebrae_pp(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1, dilation_mm=0)
    assert body_ids(out) == [8, 7, 6]  # highest present id at the bottom, one less per body upward
    assert out.dtype == np.uint8 and np.array_equal(out > 0, labels > 0)


def test_with_c1_and_without_l5_the_bodies_are_numbered_from_the_top():
    labels = column((0, 3, 3), (5, 8, 3), (10, 13, 2), (15, 18, 1), (18, 20, 2))
    out = renumber_vertebrae(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1)
    assert body_ids(out) == [4, 3, 2, 1]


def test_with_c1_and_l5_the_bodies_are_numbered_from_the_bottom():
    labels = column((0, 3, 24), (5, 8, 1), (10, 13, 2), (13, 15, 1))
    out = renumber_vertebrae(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1)
    assert body_ids(out) == [24, 23, 22]


def test_bodies_below_the_minimum_volume_are_dropped_before_the_count():
    # a 9-voxel body labelled 24 (L5) is dropped, so L5 is absent and C1 sets the count from the top
    labels = column((0, 1, 24), (5, 8, 1), (8, 10, 2), (12, 15, 2))
    out = renumber_vertebrae(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=10)
    assert out[:, :, 0].max() == 0 and body_ids(out) == [2, 1]
    # 2 x 2 x 2.5 mm voxels: 9 voxels are 90 mm3 < 100, 18 voxels 180 mm3
    kept = renumber_vertebrae(column((0, 1, 7), (5, 6, 5), (6, 7, 6)), NAMES, spacing_mm=(2, 2, 2.5))
    assert body_ids(kept) == [6]  # only the 18-voxel body is left, with the highest id present in it
    assert body_ids(renumber_vertebrae(column((0, 1, 7)), NAMES, spacing_mm=ONE_MM, min_size_mm3=9)) == [7]


def test_bodies_beyond_the_lowest_id_stay_zero():
    labels = column((0, 2, 2), (2, 4, 3), (6, 8, 2), (10, 12, 3), (14, 16, 2))
    out = renumber_vertebrae(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1)
    assert body_ids(out) == [3, 2, 1] and not out[:, :, 14:].any()


def test_equal_z_centroids_keep_the_scan_order_of_the_components():
    labels = np.zeros((7, 1, 8), np.uint8)
    labels[0:2, 0, 0:3], labels[5:7, 0, 0:3] = 24, 24  # side by side: same z-centroid
    labels[0:7, 0, 5:7], labels[0:7, 0, 7] = 22, 23
    out = renumber_vertebrae(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1)
    assert out[0, 0, 0] == 24 and out[6, 0, 0] == 23 and out[3, 0, 6] == 22


def test_one_kept_body_takes_the_highest_present_id_where_the_official_code_raises():
    labels = column((2, 5, 20), (5, 8, 21))
    out = postprocess_vertebrae_pp(labels, NAMES, spacing_mm=ONE_MM, min_size_mm3=1, dilation_mm=0)
    assert np.array_equal(out, np.where(labels > 0, 21, 0))


def test_labels_apart_are_only_regrown_and_only_into_the_background():
    labels = column((2, 4, 5), (5, 7, 3), (9, 10, 30))  # 30: not a vertebra, left as it is
    assert not labels_touch(labels)
    out = postprocess_vertebrae_pp(labels, NAMES, spacing_mm=ONE_MM, dilation_mm=1)
    assert out[1, 1, :12].tolist() == [0, 5, 5, 5, 3, 3, 3, 3, 0, 30, 0, 0]


def test_a_background_voxel_reached_by_two_labels_takes_the_lower_id():
    labels = column((2, 3, 9), (4, 5, 4))
    out = regrow_labels(labels, [4, 9], spacing_mm=ONE_MM, dilation_mm=1)
    assert out[1, 1, :7].tolist() == [0, 9, 9, 4, 4, 4, 0]


def test_labels_touch_on_faces_only():
    diagonal = np.zeros((2, 2, 1), np.uint8)
    diagonal[0, 0, 0], diagonal[1, 1, 0] = 1, 2
    assert not labels_touch(diagonal) and not labels_touch(np.zeros((3, 3, 3), np.uint8))
    diagonal[0, 1, 0] = 2
    assert labels_touch(diagonal)


def test_the_ellipsoid_kernel_is_in_millimetres():
    assert ellipsoid_kernel(ONE_MM, 1).sum() == 7 and ellipsoid_kernel(ONE_MM, 0).shape == (1, 1, 1)
    kernel = ellipsoid_kernel((1.0, 1.0, 2.0), 2)
    assert kernel.shape == (5, 5, 3)
    assert kernel[:, :, 1].sum() == 13 and kernel[:, :, 0].sum() == kernel[:, :, 2].sum() == 1


def test_the_voxel_volume_is_the_float32_product():
    assert voxel_volume_mm3((1.25, 1.25, 1.28)) == np.float32(2.0)
    in_float64 = np.prod(np.float32([1.25, 1.25, 1.28]).astype(np.float64))
    assert in_float64 < 2.0  # a 50-voxel body would fall below 100 mm3


def test_refinement_grows_then_keeps_the_vertebral_body_label_only():
    labels = column((10, 12, 7))
    body = column((7, 15, 1), (12, 13, 2))
    out = refine_vertebrae_pp(labels, body, NAMES, spacing_mm=ONE_MM)
    assert out[1, 1, :16].tolist() == [0] * 8 + [7, 7, 7, 7, 0, 7, 0, 0]


def test_mismatched_shapes_and_class_maps_are_refused():
    with pytest.raises(ValueError, match="shape .* vertebrae_body labels of shape"):
        refine_vertebrae_pp(column(), np.zeros((3, 3, 29)), NAMES, spacing_mm=ONE_MM)
    with pytest.raises(ValueError, match="lacks .*vertebrae_L5"):
        renumber_vertebrae(column((0, 2, 1)), {1: "vertebrae_C1"}, spacing_mm=ONE_MM)
