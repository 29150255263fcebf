"""Known answers for the body task's derived masks (official outputs: test_postprocess_official.py)."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.engine.skin import body_mask, combine_labels, extract_skin

BODY = {1: "body_trunc", 2: "body_extremities"}


def cube(shape=(20, 20, 20), low=3, high=17) -> np.ndarray:
    """A uint8 body: the cube ``low:high`` on every axis."""
    body = np.zeros(shape, np.uint8)
    body[low:high, low:high, low:high] = 1
    return body


def test_body_is_trunk_or_extremities_as_uint8():
    labels = np.array([[[0, 1, 2, 3]]])
    assert body_mask(labels, BODY).tolist() == [[[0, 1, 1, 0]]] and body_mask(labels, BODY).dtype == np.uint8
    assert combine_labels(labels, [3]).tolist() == [[[0, 0, 0, 1]]]


def test_skin_is_one_voxel_outside_and_two_inside_the_body():
    skin = extract_skin(np.zeros((20, 20, 20), np.int16), cube())
    assert skin.dtype == np.uint8
    assert skin[:, 10, 10].tolist() == [0, 0, 1, 1, 1] + [0] * 10 + [1, 1, 1, 0, 0]


def test_skin_keeps_only_values_strictly_between_minus_200_and_250():
    image = np.zeros((20, 20, 20))
    image[2, 10, 10], image[3, 10, 10], image[4, 10, 10] = -200, 250, -199.5
    image[15, 10, 10], image[16, 10, 10] = 249.9, -1000
    skin = extract_skin(image, cube())
    assert skin[:, 10, 10].tolist() == [0, 0, 0, 0, 1] + [0] * 10 + [1, 0, 1, 0, 0]


def test_skin_pieces_of_at_most_five_voxels_are_dropped():
    body = np.zeros((5, 5, 5), np.uint8)
    body[0, 0, 2] = 1  # on an edge: grown to 5 voxels
    assert not extract_skin(np.zeros(body.shape), body).any()
    body[0, 2, 2], body[0, 0, 2] = 1, 0  # on a face: grown to 6 voxels
    assert extract_skin(np.zeros(body.shape), body).sum() == 6


def test_an_image_on_another_grid_is_refused():
    with pytest.raises(ValueError, match="body mask of shape"):
        extract_skin(np.zeros((4, 4, 4)), cube((4, 4, 5), 1, 3))
    with pytest.raises(ValueError, match="lacks .*body_extremities"):
        body_mask(np.zeros((2, 2, 2)), {1: "body_trunc"})
