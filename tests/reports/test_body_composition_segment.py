"""Body composition with masks missing: the open task is segmented (tiny seeded models) into the
report folder, and the next run finds it there instead of segmenting again."""

from __future__ import annotations

import nibabel as nib
import numpy as np

import totalseg.api
from totalseg.anatomy.class_maps import class_map
from totalseg.io.nifti_ext import load_label_map
from totalseg.reports.body_composition import body_composition
from totalseg.reports.body_composition.protocol import muscle_classes


def test_missing_task_segmented_once(tmp_path, tiny_settings, ct_small_path, monkeypatch):
    img = nib.load(ct_small_path)
    ct = np.asanyarray(img.dataobj)
    seg = tmp_path / "seg"
    seg.mkdir()
    l3 = np.zeros(ct.shape, np.uint8)
    l3[50:70, 30:50, 10:20] = 1
    masks = {"vertebrae_L3": l3, "body_trunc": (ct > -500).astype(np.uint8)}
    masks.update({name: np.zeros(ct.shape, np.uint8) for name in muscle_classes()})
    for name, array in masks.items():
        nib.save(nib.Nifti1Image(array, img.affine), seg / f"{name}.nii.gz")
    out = tmp_path / "out"
    kwargs = {"settings": tiny_settings, "download": False}
    first = body_composition(ct_small_path, out, seg_dirs=[seg], device="cpu", quiet=True, segment_kwargs=kwargs)
    cached = out / "segmentations" / "trunk_cavities.nii.gz"
    assert sorted(p.name for p in cached.parent.iterdir()) == ["trunk_cavities.nii.gz"]
    assert load_label_map(cached) == class_map("trunk_cavities")
    assert first["status"] == "measured" and first["level"]["slice_index"] == 14

    def no_segmentation(*args, **kwargs):
        raise AssertionError("segmented again")

    monkeypatch.setattr(totalseg.api, "segment", no_segmentation)
    again = body_composition(ct_small_path, out, seg_dirs=[seg], device="cpu", quiet=True, segment_kwargs=kwargs)
    assert again == first
