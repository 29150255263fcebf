"""Golden cases from the official TotalSegmentator command: totalseg must write what it wrote.

Each case folder of ``tests/data/official_golden/cases`` names an input, a plans variant of tiny
seeded weights and the official command's arguments, and holds the official tool's output
(``benchmarks/official_golden.py`` makes them with TotalSegmentator 2.18.0 in its own venv; see the
README there). Here the same weights folder is assembled in a temporary folder and
:func:`totalseg.segment` runs the case; voxels, shape, dtype, affine and label names must match.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import totalseg
from totalseg.errors import InputError
from totalseg.io.nifti_ext import load_label_map
from totalseg.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "official_golden"
CASES = sorted(p for p in (GOLDEN / "cases").iterdir() if (p / "case.json").is_file()) \
    if (GOLDEN / "cases").is_dir() else []
REGENERATE = "python benchmarks/official_golden.py"
_FLAGS = {"--fast": "fast", "--fastest": "fastest", "--ml": "ml", "--body_seg": "body_seg"}


def segment_kwargs(args: list[str]) -> dict:
    """The official command's arguments of a case as keyword arguments of :func:`totalseg.segment`.

    >>> segment_kwargs(["--task", "total_mr", "--fast", "--ml"])
    {'task': 'total_mr', 'fast': True, 'ml': True}
    >>> segment_kwargs(["--fast", "--roi_subset", "liver", "spleen", "--ml"])
    {'fast': True, 'roi_subset': ['liver', 'spleen'], 'ml': True}
    """
    kwargs: dict = {}
    option = None
    for arg in args:
        if arg in _FLAGS:
            kwargs[_FLAGS[arg]], option = True, None
        elif arg in ("--task", "--roi_subset"):
            option = arg
        elif option == "--task":
            kwargs["task"], option = arg, None
        elif option == "--roi_subset":
            kwargs.setdefault("roi_subset", []).append(arg)
        else:
            raise ValueError(f"case.json: unexpected argument {arg!r} in {args}; "
                             f"known: {', '.join([*_FLAGS, '--task', '--roi_subset'])}")
    return kwargs


def assemble_weights(variant: str, dest: Path) -> Path:
    """The case's weights folder: ``weights/`` with the variant's plans.json files laid over it."""
    shutil.copytree(GOLDEN / "weights", dest)
    if variant == "sitk":
        return dest
    plans = GOLDEN / "plans" / variant
    replaced = sorted(p.relative_to(plans) for p in plans.glob("*/*/plans.json"))
    assert replaced == sorted(p.relative_to(dest) for p in dest.glob("*/*/plans.json")), \
        f"{plans} must hold a plans.json for every model of {GOLDEN / 'weights'}; run {REGENERATE}"
    for rel in replaced:
        shutil.copyfile(plans / rel, dest / rel)
    return dest


def label_names(img: nib.Nifti1Image) -> dict[int, str] | None:
    """The label map in the image's extension, or None without one."""
    try:
        return load_label_map(img)
    except InputError:
        return None


def assert_same_ml(expected_path: Path, ours_path: Path, what: str) -> None:
    """One multilabel file: shape, uint8, voxels, affine within 1e-4, label names."""
    expected, ours = nib.load(expected_path), nib.load(ours_path)
    assert ours.shape == expected.shape, what
    assert expected.get_data_dtype() == ours.get_data_dtype() == np.uint8, what
    x, y = np.asanyarray(expected.dataobj), np.asanyarray(ours.dataobj)
    agreement = float((x == y).mean())
    assert np.array_equal(x, y), f"{what}: {100 * agreement:.4f} % of voxels agree with the official tool"
    np.testing.assert_allclose(ours.affine, expected.affine, rtol=0, atol=1e-4, err_msg=what)
    names = label_names(expected)
    if names is not None:
        assert label_names(ours) == names, what


def assert_same_masks(expected_npz: Path, folder: Path, what: str) -> None:
    """A per-class folder: the same file names, and each mask uint8 with the same shape, affine, voxels."""
    with np.load(expected_npz) as ref:
        names, masks, affine = ref["names"].tolist(), ref["masks"], ref["affine"]
    assert sorted(p.name.removesuffix(".nii.gz") for p in folder.glob("*.nii.gz")) == sorted(names), what
    differ = []
    for name, mask in zip(names, masks):
        img = nib.load(folder / f"{name}.nii.gz")
        assert img.get_data_dtype() == np.uint8 and img.shape == mask.shape, f"{what}: {name}"
        np.testing.assert_allclose(img.affine, affine, rtol=0, atol=1e-4, err_msg=f"{what}: {name}")
        if not np.array_equal(np.asanyarray(img.dataobj), mask):
            differ.append(name)
    assert not differ, f"{what}: {len(differ)} of {len(names)} masks differ from the official tool: {differ}"


def test_golden_cases_exist():
    assert CASES, f"no golden cases in {GOLDEN / 'cases'}; make them with {REGENERATE}"


def test_segment_kwargs_refuses_unknown_arguments():
    with pytest.raises(ValueError, match="unexpected argument '--statistics'"):
        segment_kwargs(["--fast", "--statistics"])


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_output_identical_to_official(case: Path, tmp_path: Path):
    spec = json.loads((case / "case.json").read_text())
    weights = assemble_weights(spec["variant"], tmp_path / "weights")
    kwargs = segment_kwargs(spec["args"])
    out = tmp_path / ("seg.nii.gz" if kwargs.get("ml") else "segmentations")
    totalseg.segment(GOLDEN / "inputs" / f"{spec['input']}.nii.gz", out, device="cpu", quiet=True, download=False,
                     settings=Settings(home_dir=tmp_path, weights_dir=weights), keep_models=False, **kwargs)
    if kwargs.get("ml"):
        assert_same_ml(case / "expected.nii.gz", out, spec["what"])
    else:
        assert_same_masks(case / "expected.npz", out, spec["what"])
