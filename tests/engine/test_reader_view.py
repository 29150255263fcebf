"""What each nnU-Net reader hands the network, against what nnunetv2 2.8.1's readers returned for
the same files (regenerate with benchmarks/nnunet_pieces.py)."""

from pathlib import Path

import numpy as np
import pytest

from totalseg.engine.reader_view import reader_view
from totalseg.models.readers import READERS

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "nnunet_pieces" / "readers.npz"
with np.load(GOLDEN) as _npz:
    CASES = {key: _npz[key] for key in _npz.files}
IMAGES = sorted({key.split("/")[0] for key in CASES if key != "data"})


def test_the_golden_file_covers_orientations_and_headers():
    assert {"ras", "lps", "permuted", "oblique", "inconsistent-lps"} <= set(IMAGES)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("image", IMAGES)
def test_reader_view_is_what_nnunet_reads(image, reader):
    data = CASES["data"]
    view = reader_view(data, CASES[f"{image}/affine"], CASES[f"{image}/zooms"], reader)
    expected = CASES[f"{image}/{reader}/array"]
    assert view.data.shape == expected.shape and np.array_equal(view.data, expected)
    assert view.spacing == pytest.approx(tuple(CASES[f"{image}/{reader}/spacing"]), rel=1e-6)
    assert np.array_equal(view.labels_back(view.data), data)  # labels go back onto the stored grid


def test_inconsistent_headers_are_where_the_readers_differ():
    """nibabel rebuilds the header of a reoriented image: the spacing becomes the affine's, where
    SimpleITK keeps pixdim. A guard that the golden file holds the case that tells them apart."""
    sitk = CASES["inconsistent-lps/SimpleITKIOWithReorient/spacing"]
    nibabel = CASES["inconsistent-lps/NibabelIOWithReorient/spacing"]
    assert not np.allclose(sitk, nibabel)
