import numpy as np
import pytest

from totalseg.imaging.layout import c_contiguous


@pytest.mark.parametrize("shape", [(512, 512, 37), (7, 33, 17), (1, 1, 1), (5, 40, 3)])
@pytest.mark.parametrize("dtype", [None, np.float32])
def test_fortran_and_transposed_arrays_copy_to_the_same_values(shape, dtype):
    rng = np.random.default_rng(0)
    c = rng.integers(-1024, 3000, shape, dtype=np.int16)
    for array in (np.asfortranarray(c), c.transpose(2, 0, 1), c[:, ::-2, 1:]):
        out = c_contiguous(array, dtype)
        assert out.flags.c_contiguous
        assert out.dtype == (array.dtype if dtype is None else dtype)
        np.testing.assert_array_equal(out, np.ascontiguousarray(array, dtype=dtype))


def test_c_ordered_input_is_returned_without_a_copy():
    array = np.zeros((4, 5, 6), np.int16)
    assert c_contiguous(array) is array
    assert c_contiguous(array, np.float32).dtype == np.float32


@pytest.mark.parametrize("cpus", [2, 3])
def test_threaded_copy_gives_the_same_values(cpus, monkeypatch):
    import totalseg.imaging.layout as layout

    monkeypatch.setattr(layout, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(layout, "_THREADED_VOXELS", 1)
    c = np.random.default_rng(1).integers(-1024, 3000, (9, 70, 21), dtype=np.int16)  # 5 rows of tiles
    for array in (np.asfortranarray(c), c[:, ::-1, 2:]):
        np.testing.assert_array_equal(layout.c_contiguous(array, np.float32), array.astype(np.float32))
