"""Known answers for the pulmonary report's geometry (our arithmetic; the official-tool goldens are in
test_pulmonary_golden.py)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from totalseg.reports.chords import first_region_diameter, perpendicular_chord
from totalseg.reports.pulmonary.grid import rotate_into_plane
from totalseg.reports.pulmonary.masks import MaskSet
from totalseg.reports.pulmonary.report import measure_report
from totalseg.reports.sections import mask_normal, plane_cut


def _tube(shape, start, end, radius):
    idx = np.indices(shape).reshape(3, -1).T.astype(float)
    ab = np.asarray(end, float) - start
    t = np.clip((idx - start) @ ab / (ab @ ab), 0, 1)
    return (np.linalg.norm(idx - (start + t[:, None] * ab), axis=1) <= radius).reshape(shape).astype(np.uint8)


@pytest.mark.parametrize("direction", [(0, 0, 1), (1, 1, 2), (2, -1, 1)])
def test_mask_normal_of_an_oblique_disc(direction):
    normal = np.asarray(direction, float) / np.linalg.norm(direction)
    idx = np.indices((40, 40, 40)).reshape(3, -1).T - 20.0
    along = idx @ normal
    disc = ((np.abs(along) <= 1) & (np.linalg.norm(idx - along[:, None] * normal, axis=1) <= 12)).reshape(40, 40, 40)
    assert abs(mask_normal(disc) @ normal) == pytest.approx(1, abs=1e-3)


def test_oblique_tube_cross_section_has_its_diameter():
    """A tube of radius 8 voxels along (1, 1, 2): the rotated section's diameters are about 16 voxels."""
    tube = _tube((50, 50, 60), (10, 10, 5), (40, 40, 55), 8)
    point, axis = (25, 25, 30), np.array([1.0, 1, 2]) / np.sqrt(6)
    section = plane_cut(tube, point, axis)
    plane, _, _ = rotate_into_plane(nib.Nifti1Image(section, np.eye(4)),
                                    nib.Nifti1Image(tube.astype(np.float32), np.eye(4)), margin_mm=40)
    data = plane.get_fdata().astype(np.uint8)
    z = int(np.round(np.argwhere(data).mean(axis=0))[2])
    diameter, start, end = first_region_diameter(data[:, :, z])
    perpendicular, _, _ = perpendicular_chord(data[:, :, z], start, end)
    assert 15 <= diameter <= 19  # 16 plus the one-voxel dilation of the cut
    assert 15 <= perpendicular <= diameter


def test_report_of_a_straight_artery_measures_its_design_diameter():
    """A 24 mm artery along z with five 2 mm landmark discs: every landmark reads 2.4-2.6 cm."""
    shape, affine = (40, 40, 60), np.diag([1.5, 1.5, 1.5, 1.0])
    artery = _tube(shape, (20, 20, 0), (20, 20, 59), 8)  # radius 8 voxels = 12 mm
    ct = nib.Nifti1Image(np.where(artery > 0, 300, -100).astype(np.int16), affine)
    images = {"pulmonary_artery": nib.Nifti1Image(artery, affine)}
    for z, name in zip((8, 18, 28, 38, 48), ("pul_annulus", "pul_sinotubular_junction", "pul_bifurcation",
                                               "pul_left_start", "pul_right_start")):
        disc = np.zeros(shape, np.uint8)
        disc[:, :, z] = artery[:, :, z]
        images[name] = nib.Nifti1Image(disc, affine)
    report = measure_report(ct, MaskSet(images, dict.fromkeys(images, "test")))
    assert report.json["not_measurable"] == {}
    for entry in report.json["landmarks"].values():
        assert 2.4 <= entry["diameter"] <= 2.6 and 2.4 <= entry["diameter_pd"] <= 2.6
        # pi * 1.2^2 = 4.5 cm^2; the cuts of landmarks 2-5 are dilated by one 0.8 mm voxel: pi * 1.28^2 = 5.1
        assert 4.3 <= entry["area"] <= 5.3

