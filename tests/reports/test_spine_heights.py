"""Known answers for the spine report's geometry: hand-made vertebral bodies of known heights."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.reports.spine.heights import height_loss_fraction, height_loss_percent, inside, line_ends, three_heights
from totalseg.reports.spine.results import genant_grade, official_results
from totalseg.reports.spine.vertebrae import measure_spine, vertebra_order

SPACING = (0.8, 0.7, 0.5)


def column(anterior_l2_mm: float, *, top_cut: bool = False):
    """Three box-like bodies (L1-L3), 28 mm deep, 25 mm high; L2's top endplate falls linearly to
    ``anterior_l2_mm`` at its anterior edge. RAS voxels."""
    shape = (40, 80, 225)
    labels = np.zeros(shape, np.uint8)
    y_mm = (np.arange(shape[1]) + 0.5) * SPACING[1]
    z_mm = (np.arange(shape[2]) + 0.5) * SPACING[2]
    depth = np.clip((y_mm - 14.0) / 28.0, 0, 1)  # body from 14 to 42 mm posterior->anterior
    for k, label in enumerate((1, 2, 3)):  # L1 on top (high z), as in the body
        bottom = 80.0 - 32.0 * k
        top = bottom + 25.0 - (25.0 - anterior_l2_mm) * depth if label == 2 else np.full(shape[1], bottom + 25.0)
        body = ((y_mm[:, None] >= 14.0) & (y_mm[:, None] < 42.0)
                & (z_mm[None, :] >= bottom) & (z_mm[None, :] < top[:, None]))
        labels[8:32][:, body] = label
    if top_cut:
        labels[:, :, -10:] = np.where(labels[:, :, -10:] == 0, 1, labels[:, :, -10:])
    affine = np.diag([*SPACING, 1.0])
    ct = np.where(labels > 0, 250, 30).astype(np.int16)
    names = {1: "vertebrae_L1", 2: "vertebrae_L2", 3: "vertebrae_L3"}
    return Volume(ct, affine=affine), LabelVolume(labels, affine=affine), names


def _measure(anterior_l2_mm: float, **kw):
    ct, labels, names = column(anterior_l2_mm, **kw)
    zooms = tuple(np.float32(s) for s in SPACING)
    return measure_spine(ct, labels, names, ct_spacing=zooms, label_spacing=zooms)


# the official lines end at the last half-step inside (bilinear value > 0.5): about the centres of the
# first and last voxels, one voxel (along z here) shorter than the body, give or take half a voxel per end
CENTRES = SPACING[2]


def test_box_heights_within_one_millimetre():
    spine = _measure(25.0)
    for v in spine.vertebrae:
        for line in v.heights:
            assert abs(line.height_mm - (25.0 - CENTRES)) <= 1.0, (v.name, line)
        assert v.volume_mm3 == pytest.approx(24 * 40 * 50 * np.prod(SPACING), rel=0.02)  # 24 x 28 x 25 mm
        assert v.mean_hu == 250.0 and v.median_hu == 250.0


@pytest.mark.parametrize("anterior_mm", [20.0, 15.0, 10.0])  # Genant 0, 2, 3
def test_wedge_heights_and_grade_match_the_geometry(anterior_mm):
    spine = _measure(anterior_mm)
    l2 = {v.name: v for v in spine.vertebrae}["vertebrae_L2"]
    # the top endplate at 15 / 50 / 85 % of the 28 mm depth (the depth line's ends lie within a voxel)
    expected = [25.0 - (25.0 - anterior_mm) * f - CENTRES for f in (0.15, 0.5, 0.85)]
    measured = [line.height_mm for line in l2.heights]
    assert [line.position for line in l2.heights] == ["posterior", "middle", "anterior"]
    assert np.allclose(measured, expected, atol=1.0), (measured, expected)
    loss = height_loss_fraction(measured)
    assert abs(loss - (1 - expected[2] / expected[0])) < 0.05
    assert genant_grade(loss)[0] == genant_grade(1 - expected[2] / expected[0])[0]
    assert official_results(spine)["LWS_max"] == round(height_loss_percent(measured) / 100, 3)


def test_cut_vertebra_is_not_measured():
    spine = _measure(25.0, top_cut=True)
    assert [v.name for v in spine.vertebrae] == ["vertebrae_L2", "vertebrae_L3"]
    assert "touches the image border" in spine.not_measured["vertebrae_L1"]


def test_genant_boundaries():
    assert [genant_grade(x)[0] for x in (0.0, 0.1999, 0.2, 0.2499, 0.25, 0.40, 0.4001, 0.9)] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_line_ends_stop_at_the_last_inside_half_step():
    mask = np.zeros((12, 12), bool)
    mask[3:9, 2:10] = True
    assert line_ends(mask, (5.0, 5.0), (0.0, 3.0)) == ((5.0, 2.0), (5.0, 9.0))
    assert line_ends(np.zeros((4, 4), bool), (1.0, 1.0), (1.0, 0.0)) == (None, None)
    assert not inside(mask, -0.1, 5.0) and not inside(mask, 5.0, 12.0)


def test_no_depth_line_gives_zero_heights():
    lines = three_heights(np.zeros((5, 5), bool), centre_yz=(2.0, 2.0), height_axis_yz=(0.0, 1.0),
                          horizontal_axis_yz=(1.0, 0.0), spacing_yz=(1.0, 1.0))
    assert [line.height_mm for line in lines] == [0.0, 0.0, 0.0] and height_loss_percent([0, 0, 0]) == 0


def test_vertebra_order_puts_unknown_names_last():
    assert sorted(["vertebrae_S1", "vertebrae_X", "vertebrae_C2"], key=vertebra_order) == \
        ["vertebrae_C2", "vertebrae_S1", "vertebrae_X"]
