import numpy as np
import pytest

from totalseg.engine.grid import tile_grid, tile_starts


@pytest.mark.parametrize(
    "size, patch, step, expected",
    [
        (112, 112, 0.8, [0]),
        (200, 112, 0.8, [0, 88]),
        (300, 128, 0.5, [0, 57, 115, 172]),  # n = ceil(172/64)+1 = 4, spacing 57.33
        (129, 128, 0.8, [0, 1]),
        (110, 64, 0.5, [0, 23, 46]),  # nnU-Net's own docstring example
    ],
)
def test_tile_starts_match_nnunet_rule(size, patch, step, expected):
    assert tile_starts(size, patch, step) == expected


def test_tiles_cover_every_voxel_and_stay_inside():
    shape, patch = (70, 45, 33), (32, 32, 16)
    tiles = tile_grid(shape, patch, 0.8)
    covered = np.zeros(shape, dtype=bool)
    for tile in tiles:
        assert all(s.stop <= n for s, n in zip(tile, shape))
        assert tuple(s.stop - s.start for s in tile) == patch
        covered[tile] = True
    assert covered.all()
    assert len(tiles) == 3 * 2 * 3
    # first axis outermost, as nnU-Net iterates
    assert [t[0].start for t in tiles[:6]] == [0] * 6


def test_tile_starts_rejects_small_size():
    with pytest.raises(ValueError, match="smaller than the patch"):
        tile_starts(10, 16, 0.5)
