import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from totalseg.engine.gaussian import importance_map


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


def test_zeros_replaced_by_smallest_nonzero():
    g = importance_map((64, 64, 64))
    assert float(g.min()) > 0
    assert float(g[0, 0, 0]) == float(g.min())
