"""The aorta's centerline as the official report builds it, and walking along it.

A centerline is a float64 array of voxel positions, shape ``(N, 3)``, ordered from the iliac
bifurcation (lowest) to the aortic annulus. It is the longest path through the skeleton of the
smoothed aorta (``skimage`` thinning): each 26-connected skeleton component is walked breadth-first
from its first voxel (C order) with the official neighbour order, the tree's leaves are its
endpoints, and the two endpoints farthest apart in the tree give the path. Distances in mm use the
grid's float32 voxel sizes, exactly as the official report does, so indices match its indices.
"""

from __future__ import annotations

from collections import deque
from itertools import combinations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

# the official breadth-first neighbour order: z outermost, then x, then y; offsets are (x, y, z)
_NEIGHBORS = [(x, y, z) for z in (-1, 0, 1) for x in (-1, 0, 1) for y in (-1, 0, 1) if (x, y, z) != (0, 0, 0)]


def smoothed_for_skeleton(aorta: np.ndarray) -> np.ndarray:
    """The official pre-smoothing: 4 dilations (6-connected), Gaussian sigma 6 voxels, threshold 0.5.

    Examples:
        >>> m = np.zeros((30, 30, 30), np.uint8); m[10:20, 10:20, 5:25] = 1
        >>> bool(smoothed_for_skeleton(m)[15, 15, 15])
        True
    """
    dilated = ndimage.binary_dilation(aorta, iterations=4)
    return (ndimage.gaussian_filter(dilated.astype(np.float32), sigma=6) > 0.5).astype(np.uint8)


def skeleton_path(mask: np.ndarray) -> np.ndarray:
    """The longest endpoint-to-endpoint path of ``mask``'s skeleton, ``(N, 3)`` float64 voxel positions.

    Raises:
        ValueError: when no skeleton component has two endpoints.

    Examples:
        >>> m = np.zeros((12, 9, 30), bool)
        >>> for z in range(2, 28): m[2 + z // 6: 5 + z // 6, 3:6, z] = True  # a leaning bar
        >>> path = skeleton_path(m)
        >>> len(path), path[0].tolist(), path[-1].tolist()
        (24, [3.0, 4.0, 3.0], [7.0, 4.0, 26.0])
    """
    skeleton = skeletonize(mask > 0)
    unseen = skeleton.astype(bool).copy()
    candidates = []
    for start in np.argwhere(skeleton):
        if not unseen[tuple(start)]:
            continue
        nodes, parent = _bfs_tree(unseen, start)
        path = _longest_leaf_path(nodes, parent)
        if path is not None:
            candidates.append(path)
    if not candidates:
        raise ValueError("unable to create a centerline from the aorta mask")
    best = max(candidates, key=voxel_length)
    return best


def _bfs_tree(unseen: np.ndarray, start: np.ndarray) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Breadth-first spanning tree of one component (marks it seen): nodes in discovery order, parents."""
    shape = unseen.shape
    nodes, parent = [tuple(int(v) for v in start)], [-1]
    unseen[nodes[0]] = False
    queue = deque([0])
    while queue:
        current = queue.popleft()
        cx, cy, cz = nodes[current]
        for dx, dy, dz in _NEIGHBORS:
            p = (cx + dx, cy + dy, cz + dz)
            if min(p) < 0 or p[0] >= shape[0] or p[1] >= shape[1] or p[2] >= shape[2] or not unseen[p]:
                continue
            unseen[p] = False
            nodes.append(p)
            parent.append(current)
            queue.append(len(nodes) - 1)
    return nodes, parent


def _longest_leaf_path(nodes: list[tuple[int, int, int]], parent: list[int]) -> np.ndarray | None:
    """The tree path between the first pair of leaves (in node order) with the most edges between them."""
    degree = [0] * len(nodes)
    depth = [0] * len(nodes)
    for child, par in enumerate(parent):
        if par >= 0:
            degree[child] += 1
            degree[par] += 1
            depth[child] = depth[par] + 1
    leaves = [i for i, d in enumerate(degree) if d == 1]
    if len(leaves) < 2:
        return None
    best, best_pair = -1, None
    for a, b in combinations(leaves, 2):
        edges = depth[a] + depth[b] - 2 * depth[_common_ancestor(a, b, parent, depth)]
        if edges > best:
            best, best_pair = edges, (a, b)
    a, b = best_pair
    top = _common_ancestor(a, b, parent, depth)
    up, down = _chain(a, top, parent), _chain(b, top, parent)
    order = up + [top] + down[::-1]
    return np.array([nodes[i] for i in order], dtype=np.float64)


def _common_ancestor(a: int, b: int, parent: list[int], depth: list[int]) -> int:
    while depth[a] > depth[b]:
        a = parent[a]
    while depth[b] > depth[a]:
        b = parent[b]
    while a != b:
        a, b = parent[a], parent[b]
    return a


def _chain(node: int, top: int, parent: list[int]) -> list[int]:
    out = []
    while node != top:
        out.append(node)
        node = parent[node]
    return out


def voxel_length(path: np.ndarray) -> float:
    """Length of a path in voxel units (no spacing).

    Examples:
        >>> voxel_length(np.array([[0, 0, 0], [3, 4, 0.0]]))
        5.0
    """
    if len(path) < 2:
        return 0.0
    return float(np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))[-1])


def length_mm(path: np.ndarray, spacing: np.ndarray) -> np.float32:
    """Length of a path in mm, as float32 (the official type).

    Examples:
        >>> float(length_mm(np.array([[0, 0, 0], [0, 0, 10.0]]), np.array([1, 1, 0.5], np.float32)))
        5.0
    """
    if len(path) < 2:
        return np.float32(0.0)
    steps = np.diff(path, axis=0) * np.asarray(spacing, dtype=float)
    return np.float32(np.cumsum(np.linalg.norm(steps, axis=1))[-1])


def orient_upward(path: np.ndarray) -> np.ndarray:
    """The path starting at its lower end (smaller z index).

    Examples:
        >>> orient_upward(np.array([[0, 0, 5.0], [0, 0, 1.0]]))[0].tolist()
        [0.0, 0.0, 1.0]
    """
    return path[::-1].copy() if len(path) > 1 and path[0, 2] > path[-1, 2] else path


def append_point(path: np.ndarray, point: np.ndarray) -> np.ndarray:
    """``path`` continued to ``point`` through evenly spaced points (one per voxel of distance).

    Examples:
        >>> append_point(np.array([[0, 0, 0.0]]), np.array([0, 0, 3.0]))[:, 2].tolist()
        [0.0, 0.75, 1.5, 2.25, 3.0]
    """
    point = np.asarray(point, dtype=np.float64)
    last = path[-1]
    distance = np.linalg.norm(last - point)
    extra = []
    if distance > 1:
        count = int(distance)
        extra = [last + idx / float(count + 1) * (point - last) for idx in range(1, count + 1)]
    return np.vstack([path, *extra, point]) if extra else np.vstack([path, point])


def extended(path: np.ndarray, distance: float) -> np.ndarray:
    """``path`` extended by ``distance`` voxels along its last step.

    Examples:
        >>> extended(np.array([[0, 0, 0.0], [0, 0, 1.0]]), 1)[-1].tolist()
        [0.0, 0.0, 2.0]
    """
    direction = path[-1] - path[-2]
    direction = direction / np.linalg.norm(direction)
    return append_point(path, path[-1] + distance * direction)


def index_of(path: np.ndarray, point) -> int | None:
    """The first index of ``point`` in ``path`` (None if absent).

    Examples:
        >>> index_of(np.array([[0, 0, 0.0], [0, 0, 1.0]]), (0, 0, 1))
        1
    """
    hits = np.flatnonzero(np.all(path == np.asarray(point, dtype=np.float64), axis=1))
    return int(hits[0]) if hits.size else None


def closest_point(path: np.ndarray, point) -> np.ndarray:
    """The point of ``path`` nearest to ``point`` (voxel distance; the first on ties).

    Examples:
        >>> closest_point(np.array([[0, 0, 0.0], [0, 0, 4.0]]), [1, 0, 3]).tolist()
        [0.0, 0.0, 4.0]
    """
    return path[int(np.argmin(np.linalg.norm(path - np.asarray(point), axis=1)))]


def closest_section(path: np.ndarray, point, length_mm_: float, spacing_z: np.float32) -> np.ndarray:
    """The part of ``path`` about ``length_mm_`` long (counted in z voxels) centred at the point nearest ``point``.

    Examples:
        >>> line = np.array([[0, 0, z] for z in range(100)], dtype=float)
        >>> closest_section(line, [0, 0, 50], 40, np.float32(2.0))[[0, -1], 2].tolist()
        [40.0, 60.0]
    """
    closest = index_of(path, closest_point(path, point))
    count = int(length_mm_ / spacing_z)
    start = max(closest - count // 2, 0)
    end = min(closest + count // 2, len(path) - 1)
    if end - start < count - 1:
        if start == 0:
            end = min(count - 1, len(path) - 1)
        elif end == len(path) - 1:
            start = max(end - count + 1, 0)
    return path[start: end + 1]


def step_by_distance(path: np.ndarray, start: int | None, distance_mm: float, spacing: np.ndarray) -> int | None:
    """The index reached by walking ``distance_mm`` from ``start`` (negative: backwards), the official way.

    Forward walks stop before the last point; backward walks start one point behind ``start``
    (the official report's counting). None when the path ends first.

    Examples:
        >>> path = np.array([[0, 0, z] for z in range(10)], dtype=float)
        >>> step_by_distance(path, 0, 3, np.ones(3, np.float32))
        3
    """
    if start is None or not 0 <= start < len(path):
        return None
    if distance_mm == 0:
        return start
    spacing = np.asarray(spacing)
    if distance_mm > 0:
        indexes, previous = range(start + 1, len(path) - 1), -1
    else:
        indexes, previous = reversed(range(0, start - 1)), 1
    walked = 0.0
    for idx in indexes:
        walked += np.sqrt(np.sum(((path[idx] - path[idx + previous]) * spacing) ** 2))
        if walked >= abs(distance_mm):
            return idx
    return None


def midpoint_index(path: np.ndarray, a: int | None, b: int | None) -> int | None:
    """The index halfway (in voxel length) between indices ``a`` and ``b``, as the official report counts it.

    The official walk starts with the step into ``a`` (from ``a - 1``), so for ``a > 0`` it stops
    one step early; kept for parity.

    Examples:
        >>> midpoint_index(np.array([[0, 0, z] for z in range(11)], dtype=float), 0, 10)
        4
    """
    if a is None or b is None or not (0 <= a < len(path) and 0 <= b < len(path)):
        return None
    a, b = min(a, b), max(a, b)
    target = voxel_length(path[a:b]) // 2
    walked = 0.0
    for idx in range(max(1, a), b):
        walked += np.linalg.norm(path[idx] - path[idx - 1])
        if walked >= target:
            return idx
    return a if a == b else None


def normal_at(path: np.ndarray, idx: int | None) -> np.ndarray:
    """The centerline direction at ``idx``: the mean of chords over +/- 3..9 points (not normalised).

    Examples:
        >>> normal_at(np.array([[0, 0, z] for z in range(30)], dtype=float), 15).tolist()
        [0.0, 0.0, -12.0]
    """
    if len(path) < 2 or idx is None or not 0 <= idx < len(path):
        return np.array([0.0, 0.0, 1.0])
    chords = [path[max(0, idx - d)] - path[min(len(path) - 1, idx + d)] for d in range(3, 10)]
    normal = np.asarray(chords).mean(axis=0)
    if np.linalg.norm(normal) > 0:
        return normal
    for d in range(1, len(path)):
        normal = path[max(0, idx - d)] - path[min(len(path) - 1, idx + d)]
        if np.linalg.norm(normal) > 0:
            return normal
    return np.array([0.0, 0.0, 1.0])
