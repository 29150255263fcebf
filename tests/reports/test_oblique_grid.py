"""The shared oblique grid (reports/oblique_grid.py): rotations and the fixed box."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.reports.oblique_grid import fixed_box, rotation_matrix, section_rotation


@pytest.mark.parametrize("seed", range(5))
def test_rotation_matrix_is_a_rotation_onto_the_target(seed):
    rng = np.random.default_rng(seed)
    source, target = rng.normal(size=3), rng.normal(size=3)
    r = rotation_matrix(source, target)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1)
    assert np.allclose(r @ (source / np.linalg.norm(source)), target / np.linalg.norm(target))


def test_opposite_directions_give_a_reflection_and_zero_the_identity():
    r = rotation_matrix(np.array([0, 0, 1.0]), np.array([0, 0, -1.0]))
    assert np.allclose(r @ [0, 0, 1], [0, 0, -1])
    assert np.array_equal(rotation_matrix(np.zeros(3), np.array([1.0, 0, 0])), np.eye(3))


def test_section_rotation_keeps_the_centre_and_turns_the_normal_onto_the_third_axis():
    affine = np.array([[0.7, 0, 0, -10], [0, 0.7, 0, 5], [0, 0, 2.0, 30], [0, 0, 0, 1]])
    centre, normal = np.array([10.0, 12, 4]), np.array([0.3, -0.5, 0.8])
    rotation = section_rotation(centre, normal, affine)
    world_centre = affine @ np.append(centre, 1)
    assert np.allclose(rotation @ world_centre, world_centre)
    turned = rotation[:3, :3] @ (affine[:3, :3] @ normal)
    assert np.allclose(np.cross(turned, [0, 0, 1]), 0, atol=1e-9)


def test_fixed_box_is_clipped_to_the_array():
    mask = np.zeros((30, 30, 30), np.uint8)
    mask[27:30, 0:2, 14:16] = 1
    assert fixed_box(mask, (5, 5, 5)) == (slice(23, 30), slice(0, 5), slice(9, 19))
