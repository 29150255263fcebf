import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from totalseg.engine.gaussian import _gaussian_float64, importance_map


def test_importance_map_matches_nnunet_definition():
    patch = (20, 16, 12)
    g = importance_map(patch)
    assert g.dtype == torch.float16 and tuple(g.shape) == patch
    # nnU-Net: gaussian_filter of a centred impulse, sigma = patch/8, max scaled to 10, fp16
    ref = np.zeros(patch)
    ref[10, 8, 6] = 1
    ref = gaussian_filter(ref, [p / 8 for p in patch], 0, mode="constant", cval=0)
    ref = torch.from_numpy(ref / (ref.max() / 10)).half()
    nonzero = ref != 0
    assert torch.equal(g[nonzero], ref[nonzero])
    assert float(g.max()) == 10.0 and float(g.min()) > 0
    assert g[10, 8, 6] == g.max()


@pytest.mark.parametrize("patch", [(112, 112, 128), (128, 128, 128), (48, 192, 160), (17, 9, 30)])
def test_float64_map_has_the_bits_of_nnunets_3d_filter(patch):
    impulse = np.zeros(patch)
    impulse[tuple(p // 2 for p in patch)] = 1
    ref = gaussian_filter(impulse, [p / 8 for p in patch], 0, mode="constant", cval=0)
    ref /= np.max(ref) / 10
    assert np.array_equal(_gaussian_float64(patch, 1.0 / 8, 10.0), ref)


def test_zeros_replaced_by_smallest_nonzero():
    g = importance_map((64, 64, 64))
    assert float(g.min()) > 0
    assert float(g[0, 0, 0]) == float(g.min())
