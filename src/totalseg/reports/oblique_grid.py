"""The oblique grid on which the aorta and pulmonary reports measure a cross-section.

As the official reports (``get_2d_plane`` in the official aorta report's geometry, which its pulmonary
report imports): a cube of a fixed size in mm is cut around the section's integer mean voxel, and the
cube's affine is rotated about the section's centre (world mm) so that the section's normal turns
onto the cube's third voxel axis (or its opposite, whichever is nearer). Resampling the cube's data
onto the unrotated cube with that rotated affine lays the section flat in one axial slice; the
inverse rotation maps the slice's voxels back to world coordinates.

Examples:
    >>> cut = np.zeros((20, 20, 20), np.uint8); cut[5:15, 5:15, 9] = 1
    >>> [(s.start, s.stop) for s in fixed_box(cut, half_box_voxels(10.0, (1.0, 1.0, 1.0)))]
    [(4, 14), (4, 14), (4, 14)]
    >>> section_rotation(np.array([9.5, 9.5, 9.0]), np.array([0, 0, 1.0]), np.eye(4)).tolist() == np.eye(4).tolist()
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def half_box_voxels(size_mm: float, zooms: Sequence[float]) -> np.ndarray:
    """Half the side, in whole voxels per axis, of a cube of ``size_mm`` (the official truncations:
    ``int(int(size_mm / zoom) / 2)``).

    Examples:
        >>> half_box_voxels(25.0, (0.8, 0.8, 2.0)).tolist()
        [15, 15, 6]
    """
    return ((np.asarray([size_mm] * 3) / np.asarray(zooms[:3])).astype(int) / 2).astype(int)


def fixed_box(mask: np.ndarray, half: Sequence[int]) -> tuple[slice, slice, slice]:
    """The box of ``half`` voxels either side of the foreground's integer mean index (> 0), clipped to
    the array; around the array's centre when there is no foreground.

    Examples:
        >>> m = np.zeros((10, 10, 10)); m[1, 1, 1] = 1
        >>> fixed_box(m, (3, 3, 3))
        (slice(0, 4, None), slice(0, 4, None), slice(0, 4, None))
        >>> fixed_box(np.zeros((10, 10, 10)), (2, 2, 2))[0]
        slice(3, 7, None)
    """
    if np.any(mask > 0):
        coords = np.where(mask > 0)
        middle = [int(np.mean(coords[axis])) for axis in range(3)]
    else:
        middle = [size // 2 for size in mask.shape[:3]]
    return tuple(slice(max(0, int(middle[a] - half[a])), min(mask.shape[a], int(middle[a] + half[a])))
                 for a in range(3))


def rotation_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 3x3 rotation taking direction ``source`` onto ``target`` (Rodrigues); a reflection when they
    are opposite, the identity when either is zero.

    Examples:
        >>> (rotation_matrix(np.array([1.0, 0, 0]), np.array([0, 1.0, 0])) @ [1, 0, 0]).round(6).tolist()
        [0.0, 1.0, 0.0]
    """
    source, target = _unit(np.asarray(source, float)), _unit(np.asarray(target, float))
    if not np.linalg.norm(source) or not np.linalg.norm(target):
        return np.eye(3)
    dot = np.clip(np.dot(source, target), -1.0, 1.0)
    if np.isclose(dot, 1):
        return np.eye(3)
    if np.isclose(dot, -1):
        axis = _unit(np.cross(source, np.eye(3)[np.argmin(np.abs(source))]))
        return 2 * np.outer(axis, axis) - np.eye(3)
    cross = np.cross(source, target)
    skew = np.array([[0, -cross[2], cross[1]], [cross[2], 0, -cross[0]], [-cross[1], cross[0], 0]])
    return np.eye(3) + skew + skew @ skew * (1 - dot) / np.linalg.norm(cross) ** 2


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector if norm == 0 else vector / norm


def rotation_about(source: np.ndarray, target: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """4x4: the rotation turning ``source`` onto ``target``, or onto ``-target`` when that is nearer
    (the official ``flip_negative``), about the point ``centre``.

    Examples:
        >>> r = rotation_about(np.array([0, 0, -1.0]), np.array([0, 0, 1.0]), np.array([5.0, 5, 5]))
        >>> r.tolist() == np.eye(4).tolist()
        True
    """
    if np.dot(source, target) < 0:
        target = -np.asarray(target)
    rotation = np.eye(4)
    rotation[:3, :3] = rotation_matrix(source, target)
    to_origin, back = np.eye(4), np.eye(4)
    to_origin[:3, 3] -= centre
    back[:3, 3] += centre
    return back @ rotation @ to_origin


def section_rotation(centre_vox: np.ndarray, normal_vox: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """4x4 (world mm): the rotation about the section's centre that turns its normal onto the third
    voxel axis of ``affine``. Data on ``affine`` resampled from ``rotation @ affine`` lies flat;
    ``inv(rotation) @ affine`` maps the flat grid's voxels to world mm.

    Examples:
        >>> tilt = section_rotation(np.zeros(3), np.array([0, 1.0, 1.0]), np.diag([2.0, 2, 2, 1]))
        >>> (tilt[:3, :3] @ [0, 1, 1]).round(6).tolist()
        [0.0, 0.0, 1.414214]
    """
    linear = affine[:3, :3]
    centre = linear @ centre_vox + affine[:3, 3]
    return rotation_about(linear @ normal_vox, linear @ np.array([0, 0, 1]), centre)
