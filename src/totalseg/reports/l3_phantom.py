"""A small CT phantom of the abdomen at L3 with known body-composition areas, and its masks as the
open tasks' multilabel files (``total``, ``abdominal_muscles``, ``trunk_cavities``, ``body``).

Boxes, so every area is a whole number of 2 x 2 mm pixels: a fat trunk (-100 HU), a muscle wall
(45 HU, the left erector spinae mask) around a fat abdominal cavity (-90 HU) and a vertebra
(400 HU, ``vertebrae_L3`` on axial slices 3-8 of 12, so the mid-slice is 5). The ``total`` file
holds no aorta: reports that need one say so.

Examples:
    >>> import tempfile
    >>> case = write_l3_phantom(Path(tempfile.mkdtemp()))
    >>> sorted(p.name for p in case.seg_dir.iterdir())
    ['abdominal_muscles.nii.gz', 'body.nii.gz', 'total.nii.gz', 'trunk_cavities.nii.gz']
    >>> case.expected_cm2
    {'skeletal_muscle_area': 7.04, 'visceral_fat_area': 15.36, 'subcutaneous_fat_area': 28.8}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (40, 40, 12)
SPACING_MM = (2.0, 2.0, 3.0)
L3_SLICES = (3, 8)
MUSCLE_CLASS = "erector_spinae_left"


@dataclass(frozen=True)
class L3Phantom:
    """The phantom's CT file, the folder of its multilabel masks and its areas (cm2) on the L3 mid-slice."""

    ct: Path
    seg_dir: Path
    expected_cm2: dict[str, float]


def write_l3_phantom(folder: Path) -> L3Phantom:
    """Write ``ct.nii.gz`` and ``seg/<task>.nii.gz`` (the tasks' label ids) into ``folder``."""
    from totalseg.anatomy.class_maps import class_map

    body, outer, inner, vertebra = (np.zeros(SHAPE[:2], bool) for _ in range(4))
    body[2:38, 2:38] = True  # 1296 pixels
    outer[8:32, 8:32] = True
    inner[10:30, 10:30] = True
    vertebra[18:22, 10:14] = True  # 16 pixels, inside the cavity's box
    muscle, cavity = outer & ~inner, inner & ~vertebra  # 176 and 384 pixels
    hu = np.where(body, -100, -1000).astype(np.int16)
    hu[muscle], hu[cavity], hu[vertebra] = 45, -90, 400
    affine = np.diag([*SPACING_MM, 1.0])
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.repeat(hu[:, :, None], SHAPE[2], axis=2), affine), folder / "ct.nii.gz")
    l3 = np.repeat(vertebra[:, :, None], SHAPE[2], axis=2)
    l3[:, :, : L3_SLICES[0]] = l3[:, :, L3_SLICES[1] + 1:] = False
    planes = {"total": {"vertebrae_L3": l3}, "abdominal_muscles": {MUSCLE_CLASS: muscle},
              "trunk_cavities": {"abdominal_cavity": cavity}, "body": {"body_trunc": body}}
    seg_dir = folder / "seg"
    seg_dir.mkdir(exist_ok=True)
    for task, masks in planes.items():
        ids = {name: i for i, name in class_map(task).items()}
        labels = np.zeros(SHAPE, np.uint8)
        for name, mask in masks.items():
            labels[np.broadcast_to(mask if mask.ndim == 3 else mask[:, :, None], SHAPE)] = ids[name]
        nib.save(nib.Nifti1Image(labels, affine), seg_dir / f"{task}.nii.gz")
    pixel_cm2 = SPACING_MM[0] * SPACING_MM[1] / 100
    expected = {"skeletal_muscle_area": 176 * pixel_cm2, "visceral_fat_area": 384 * pixel_cm2,
                "subcutaneous_fat_area": (1296 - 576) * pixel_cm2}
    return L3Phantom(folder / "ct.nii.gz", seg_dir, {k: round(v, 2) for k, v in expected.items()})
