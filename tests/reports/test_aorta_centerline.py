"""Known answers for walking the aorta's centerline."""

from __future__ import annotations

import numpy as np

from totalseg.reports.aorta import centerline as cl

LINE = np.array([[0, 0, z] for z in range(21)], dtype=float)
ONE_MM = np.ones(3, np.float32)


def test_skeleton_of_a_bar_runs_along_it():
    bar = np.zeros((16, 11, 40), bool)
    for z in range(2, 38):  # leaning: the thinning collapses a perfectly symmetric bar
        bar[3 + z // 8: 8 + z // 8, 3:8, z] = True
    path = cl.orient_upward(cl.skeleton_path(bar))
    assert path[0, 2] < path[-1, 2]
    assert path[-1, 2] - path[0, 2] >= 25
    assert np.all(np.abs(path[:, 1] - 5) <= 1)
    assert np.all(np.abs(path[:, 0] - (5 + path[:, 2] // 8)) <= 1.5)


def test_orient_upward_starts_at_the_bottom():
    assert cl.orient_upward(LINE[::-1])[0, 2] == 0


def test_step_by_distance_forward_and_backward():
    assert cl.step_by_distance(LINE, 0, 5, ONE_MM) == 5
    assert cl.step_by_distance(LINE, 0, 5, np.array([1, 1, 0.5], np.float32)) == 10
    # backwards the official count starts one point behind the start
    assert cl.step_by_distance(LINE, 15, -5, ONE_MM) == 9
    assert cl.step_by_distance(LINE, 2, 50, ONE_MM) is None
    assert cl.step_by_distance(LINE, None, 5, ONE_MM) is None


def test_midpoint_and_length():
    # half of the voxel length of path[a:b] (9 // 2 = 4 steps), counted from the step into a
    assert cl.midpoint_index(LINE, 0, 10) == 4
    assert cl.midpoint_index(LINE, 4, 14) == 7
    assert cl.midpoint_index(LINE, 14, 4) == 7
    assert float(cl.length_mm(LINE, np.array([1, 1, 2], np.float32))) == 40.0
    assert cl.voxel_length(LINE[:1]) == 0.0


def test_append_point_fills_in_one_point_per_voxel():
    path = cl.append_point(LINE[:2], np.array([0, 0, 5.0]))
    assert len(path) == 2 + 4 + 1 and path[-1, 2] == 5.0  # int(4.0) points in between
    assert np.all(np.diff(path[:, 2]) > 0)
    assert cl.extended(LINE, 1)[-1, 2] == 21.0


def test_closest_point_and_index():
    assert cl.index_of(LINE, cl.closest_point(LINE, [3, 0, 7.2])) == 7
    assert cl.index_of(LINE, [1, 1, 1]) is None
    section = cl.closest_section(LINE, [0, 0, 1], 8, np.float32(1.0))
    assert len(section) == 8 and section[0, 2] == 0


def test_normal_follows_the_line():
    normal = cl.normal_at(LINE, 10)
    assert normal[0] == 0 and normal[1] == 0 and normal[2] < 0
    assert cl.normal_at(LINE, None).tolist() == [0.0, 0.0, 1.0]
