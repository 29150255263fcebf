"""preview.png: size from the mm extent, official colours where the masks are, legend, radiological view."""

import doctest

import numpy as np
import pytest
from PIL import Image

from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure import preview as preview_module
from totalseg.measure.preview import ALPHA, render_preview

LIVER_RGB = (40, 140, 40)  # the official table's colour
AORTA_RGB = (216, 108, 54)


def scene(affine):
    """Air (-1000 HU, black in the window) with the liver on the patient's right and the aorta on the left."""
    image = np.full((40, 30, 20), -1000, np.int16)
    labels = np.zeros(image.shape, np.uint8)
    labels[26:36, 8:22, 5:15] = 5  # high x = patient right in RAS+
    labels[6:12, 12:18, 4:16] = 52
    return Volume(image, affine=affine), LabelVolume(labels, affine=affine)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    image, labels = scene(affine)
    path = tmp_path_factory.mktemp("preview") / "preview.png"
    classes = {5: "liver", 52: "aorta", 1: "spleen"}
    assert render_preview(image, labels, classes, path, title="phantom") == path
    return np.asarray(Image.open(path).convert("RGB"))


def test_size_follows_the_mm_extent(rendered):
    # 80 x 60 x 60 mm, 400 px for the longest side: panels 400x300 (axial, coronal) and 300x300 (sagittal),
    # 8 px gaps, a 24 px title bar, one legend row of 18 px.
    assert rendered.shape == (24 + 300 + 8 + 18 + 8, 400 + 400 + 300 + 4 * 8, 3)


def test_colours_where_the_masks_are_and_legend(rendered):
    def has(rgb, region=rendered):
        return bool(np.all(np.abs(region.astype(int) - rgb) <= 1, axis=-1).any())

    blended_liver = tuple(round(ALPHA * c) for c in LIVER_RGB)  # over black air
    blended_aorta = tuple(round(ALPHA * c) for c in AORTA_RGB)
    panels = rendered[24:324]
    assert has(blended_liver, panels) and has(blended_aorta, panels)
    legend = rendered[332:]
    assert has(LIVER_RGB, legend) and has(AORTA_RGB, legend)
    assert not has((50, 170, 60)) and not has(tuple(round(ALPHA * c) for c in (50, 170, 60)))  # spleen: absent
    # Radiological convention: the patient's right (liver) on the viewer's left of the axial panel.
    axial = panels[:, 8:408]
    liver_cols = np.flatnonzero(np.all(np.abs(axial.astype(int) - blended_liver) <= 1, axis=-1).any(axis=0))
    aorta_cols = np.flatnonzero(np.all(np.abs(axial.astype(int) - blended_aorta) <= 1, axis=-1).any(axis=0))
    assert liver_cols.mean() < 200 < aorta_cols.mean()


def test_lps_storage_renders_the_same_picture(rendered, tmp_path):
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [39, 29]
    affine = np.diag([2.0, 2.0, 3.0, 1.0]) @ flip
    image, labels = scene(np.diag([2.0, 2.0, 3.0, 1.0]))
    lps_image = Volume(np.ascontiguousarray(image.array[::-1, ::-1]), affine=affine)
    lps_labels = LabelVolume(np.ascontiguousarray(labels.array[::-1, ::-1]), affine=affine)
    path = render_preview(lps_image, lps_labels, {5: "liver", 52: "aorta", 1: "spleen"}, tmp_path / "p.png",
                          title="phantom")
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), rendered)


def test_mr_window_from_percentiles(tmp_path):
    ramp = np.broadcast_to(np.linspace(0, 3000, 40)[:, None, None], (40, 30, 20)).astype(np.int16)
    image = Volume(np.ascontiguousarray(ramp), affine=np.diag([2.0, 2.0, 3.0, 1.0]))
    labels = LabelVolume(np.zeros(image.shape, np.uint8), affine=image.affine)
    path = render_preview(image, labels, {5: "liver"}, tmp_path / "mr.png", modality="mr")
    axial = np.asarray(Image.open(path).convert("L"))[24:324, 8:408]
    assert axial.min() == 0 and axial.max() == 255 and len(np.unique(axial)) > 100  # the ramp spans the window


def test_docstring_examples():
    assert doctest.testmod(preview_module).failed == 0
