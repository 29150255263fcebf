"""Golden data for the official --higher_order_resampling export (engine/cropped_export.py).

Run with the official tool's Python (its venv from ``benchmarks/harness.py``)::

    .bench/official-venv/bin/python benchmarks/cropped_export_golden.py

Seeded fp16 logits (few classes, blobs, anisotropic grids, up- and downsampling, separate-z) go
through TotalSegmentator's own ``_convert_logits_to_segmentation_with_cropped_resampling`` with
nnU-Net's ``resample_data_or_seg_to_shape`` as the plans' logits resampling; inputs and labels
are saved to tests/data/cropped_export_golden.npz. Also the LEGACY variant's label resampling
(``resampling.resample_one_hot_crop``, order 1) on seeded label maps (keys ``legacy_*``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "cropped_export_golden.npz"
# (logits grid, new grid, current spacing, target spacing, classes)
CASES = [
    ((12, 14, 10), (20, 30, 17), (3.0, 3.0, 3.0), (1.8, 1.4, 1.76), 4),
    ((10, 16, 16), (30, 20, 24), (3.0, 1.5, 1.5), (1.0, 1.2, 1.0), 6),  # anisotropic: separate z
    ((16, 12, 12), (9, 10, 7), (1.0, 1.0, 1.0), (1.8, 1.2, 1.7), 3),  # downsampling
    ((8, 8, 8), (8, 8, 8), (2.0, 2.0, 2.0), (2.0, 2.0, 2.0), 5),  # same grid: plain argmax
]


def logits_for(shape, classes, rng) -> np.ndarray:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    logits = rng.normal(0, 0.3, (classes, *shape))
    for c in range(1, classes):
        centre = rng.uniform(-0.6, 0.6, 3)
        logits[c] += 2.5 - 8 * ((grid - centre[:, None, None, None]) ** 2).sum(0)
    return logits.astype(np.float16)


def main() -> None:
    from nnunetv2.preprocessing.resampling.default_resampling import resample_data_or_seg_to_shape
    from nnunetv2.utilities.label_handling.label_handling import LabelManager
    from totalsegmentator.nnunet_runtime_patches import _convert_logits_to_segmentation_with_cropped_resampling

    rng = np.random.default_rng(7)
    resample = partial(resample_data_or_seg_to_shape, is_seg=False, order=1, order_z=0, force_separate_z=None)
    arrays = {}
    for i, (grid, new, current, target, classes) in enumerate(CASES):
        logits = logits_for(grid, classes, rng)
        labels = LabelManager({"background": 0, **{f"c{c}": c for c in range(1, classes)}}, regions_class_order=None)
        out = _convert_logits_to_segmentation_with_cropped_resampling(logits, labels, new, current, target, resample)
        arrays.update({f"logits_{i}": logits, f"labels_{i}": np.asarray(out), f"new_{i}": np.array(new),
                       f"current_{i}": np.array(current), f"target_{i}": np.array(target)})
    from totalsegmentator.resampling import resample_one_hot_crop

    for i, (grid, new) in enumerate([((12, 14, 10), (20, 30, 17)), ((16, 12, 12), (9, 10, 7)),
                                     ((10, 16, 16), (30, 20, 24))]):
        seg = logits_for(grid, 6, rng).argmax(0).astype(np.uint8)
        arrays.update({f"legacy_labels_{i}": seg, f"legacy_new_{i}": np.array(new),
                       f"legacy_out_{i}": resample_one_hot_crop(seg, new, order=1)})
    np.savez_compressed(OUT, **arrays)
    print(f"{len(CASES)} cases -> {OUT}")


if __name__ == "__main__":
    main()
