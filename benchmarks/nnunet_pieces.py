"""Golden cases for two pieces of nnU-Net, made by nnU-Net itself (run with the official tool's venv).

Usage::

    .bench/official-venv/bin/python benchmarks/nnunet_pieces.py

writes into ``tests/data/nnunet_pieces/``:

- ``resampling.npz``: for each case the input array, the target shape, the current and target
  spacing, the plans keyword arguments and the output of nnunetv2's ``resample_data_or_seg_to_shape``
  (``tests/engine/test_resampling.py`` requires ``engine.resampling.resample`` to reproduce each
  output bit for bit);
- ``readers.npz``: for NIfTI files of several orientations and headers, the array and spacing each
  of nnunetv2's 3-D readers returns (``tests/engine/test_reader_view.py``).

Seeded: reruns write the same arrays.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from nnunetv2.imageio.nibabel_reader_writer import NibabelIO, NibabelIOWithReorient
from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO, SimpleITKIOWithReorient
from nnunetv2.preprocessing.resampling.default_resampling import resample_data_or_seg_to_shape

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "nnunet_pieces"
READERS = (SimpleITKIO, SimpleITKIOWithReorient, NibabelIO, NibabelIOWithReorient)
DATA = {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None}
LOGITS = {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None}

# name, input shape (C, *spatial), dtype, target shape, current spacing, target spacing, kwargs
CASES = [
    ("data-isotropic-down", (1, 20, 18, 16), np.float32, (10, 9, 8), (1.0, 1.0, 1.0), (2.0, 2.0, 2.0), DATA),
    ("data-isotropic-up", (1, 9, 11, 7), np.float32, (14, 17, 11), (1.5, 1.5, 1.5), (1.0, 1.0, 1.0), DATA),
    ("data-separate-z-axis0", (1, 6, 24, 20), np.float32, (15, 19, 16), (5.0, 0.8, 0.8), (2.0, 1.0, 1.0), DATA),
    ("data-separate-z-axis2", (1, 22, 20, 5), np.float32, (18, 16, 12), (0.8, 0.8, 4.0), (1.0, 1.0, 1.5), DATA),
    ("data-target-anisotropic", (1, 12, 12, 12), np.float32, (12, 12, 3), (1.0, 1.0, 1.0), (1.0, 1.0, 4.0), DATA),
    ("data-two-coarse-axes", (1, 6, 6, 24), np.float32, (12, 12, 24), (4.0, 4.0, 1.0), (2.0, 2.0, 1.0), DATA),
    ("data-forced-separate", (1, 10, 12, 14), np.float32, (8, 9, 10), (2.0, 1.0, 1.0), (2.5, 1.3, 1.4),
     {**DATA, "force_separate_z": True}),
    ("data-order-1-order-z-1", (1, 5, 16, 16), np.float32, (12, 12, 12), (4.0, 1.0, 1.0), (1.5, 1.3, 1.3),
     {**DATA, "order": 1, "order_z": 1}),
    ("logits-fp16-back", (4, 10, 12, 8), np.float16, (17, 13, 15), (2.0, 1.5, 3.0), (1.2, 1.4, 1.6), LOGITS),
    ("logits-fp16-separate-z", (3, 4, 14, 12), np.float16, (9, 20, 18), (3.0, 1.0, 1.0), (5.0, 0.7, 0.7), LOGITS),
    ("same-shape", (2, 7, 8, 9), np.float16, (7, 8, 9), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), LOGITS),
]


def _rotation(degrees: float, axis: int) -> np.ndarray:
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    rot = np.eye(3)
    i, j = [k for k in range(3) if k != axis]
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    return rot


def _affine(linear: np.ndarray, origin=(10.0, -20.0, 30.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = linear, origin
    return affine


PERMUTED = np.array([[0.0, -2.0, 0.0], [0.0, 0.0, 3.0], [1.5, 0.0, 0.0]])
# name, affine, pixdim override (None: nibabel's own from the affine)
IMAGES = [
    ("ras", _affine(np.diag([1.0, 2.0, 3.0])), None),
    ("lps", _affine(np.diag([-1.0, -2.0, 3.0])), None),
    ("permuted", _affine(PERMUTED), None),
    ("oblique", _affine(_rotation(12, 2) @ PERMUTED), None),
    ("oblique-30-lps", _affine(_rotation(30, 0) @ np.diag([-0.8, -0.9, 2.5])), None),
    ("inconsistent-ras", _affine(np.diag([2.0, 2.0, 2.0])), (1.0, 1.5, 1.2)),
    ("inconsistent-lps", _affine(np.diag([-2.0, -2.0, 2.0])), (1.0, 1.5, 1.2)),
]


def readers() -> dict[str, np.ndarray]:
    data = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, affine, pixdim in IMAGES:
            img = nib.Nifti1Image(data, affine)
            if pixdim is not None:
                img.header.set_qform(None, code=0)
                img.header.set_sform(affine, code=2)
                img.header["pixdim"][1:4] = pixdim
            path = str(Path(tmp) / f"{name}.nii.gz")
            img.to_filename(path)
            stored = nib.load(path)
            out[f"{name}/affine"] = stored.affine
            out[f"{name}/zooms"] = np.array(stored.header.get_zooms()[:3], dtype=np.float64)
            for reader in READERS:
                array, props = reader().read_images([path])
                out[f"{name}/{reader.__name__}/array"] = array[0].astype(np.int16)
                out[f"{name}/{reader.__name__}/spacing"] = np.array(props["spacing"], dtype=np.float64)
    out["data"] = data
    return out


def resampling() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    arrays, meta = {}, []
    for name, shape, dtype, target, spacing, new_spacing, kwargs in CASES:
        data = (rng.standard_normal(shape) * 3).astype(dtype)
        out = resample_data_or_seg_to_shape(data, target, spacing, new_spacing, **kwargs)
        arrays[f"{name}/input"], arrays[f"{name}/output"] = data, np.asarray(out)
        meta.append({"name": name, "target": list(target), "spacing": list(spacing),
                     "new_spacing": list(new_spacing), "kwargs": kwargs})
    return {"meta": np.array(json.dumps(meta)), **arrays}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "resampling.npz", **resampling())
    np.savez_compressed(OUT / "readers.npz", **readers())
    print(f"wrote {len(CASES)} resampling cases and {len(IMAGES)} x {len(READERS)} reader cases to {OUT}")


if __name__ == "__main__":
    main()
