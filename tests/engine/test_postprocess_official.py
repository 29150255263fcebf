"""The post-processing ports against outputs TotalSegmentator 2.18.0 itself wrote.

Regenerate with ``.bench/official-venv/bin/python benchmarks/postprocess_golden.py``; every case here
must come out bit for bit (values, dtype, shape) as the official function's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from totalseg.engine.postprocess import (
    keep_largest_blob_per_label,
    outside_dilation_voxels,
    remove_labels,
    remove_outside_of_mask,
    remove_small_blobs_per_label,
)
from totalseg.engine.skin import body_mask, extract_skin
from totalseg.engine.vertebrae import (
    ellipsoid_kernel,
    postprocess_vertebrae_pp,
    refine_vertebrae_pp,
    renumber_vertebrae,
    voxel_volume_mm3,
)

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "postprocess_golden"


def _load(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(GOLDEN / f"{name}.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    return json.loads(str(arrays.pop("meta"))), arrays


VERTEBRAE_META, VERTEBRAE = _load("vertebrae")
BLOBS_META, BLOBS = _load("blobs")
MASKS_META, MASKS = _load("masks")
SKIN_META, SKIN = _load("skin")
VERTEBRA_NAMES = {int(k): v for k, v in VERTEBRAE_META["class_map"].items()}
BLOB_NAMES = {int(k): v for k, v in BLOBS_META["class_map"].items()}


def _ids(cases: list[dict]) -> list[str]:
    return [case["name"] for case in cases]


def _assert_identical(ours: np.ndarray, official: np.ndarray) -> None:
    assert ours.dtype == official.dtype and ours.shape == official.shape
    differ = np.count_nonzero(ours != official)
    assert differ == 0, f"{differ} of {ours.size} voxels differ"


def test_the_golden_files_cover_the_cases_the_brief_names():
    names = set(_ids(VERTEBRAE_META["postprocess"]))
    assert {"leak-lumbar-iso", "leak-lumbar-aniso", "c1-no-l5-aniso", "apart-aniso", "empty", "tie-top",
            "size-threshold", "single-component"} <= names
    spacings = {tuple(round(v, 4) for v in case["spacing"]) for case in VERTEBRAE_META["postprocess"]}
    assert {(1.5, 1.5, 1.5), (0.8, 0.8, 2.5)} <= spacings
    assert len(VERTEBRAE_META["kernels"]) >= 40 and len(VERTEBRAE_META["refine"]) == 3
    assert {case["addon"] for case in MASKS_META["cases"] if case["kind"] == "outside"} == {-1, 0, 1, 3, 2}
    assert {case["ct_dtype"] for case in SKIN_META["cases"]} == {"int16", "float64"}


@pytest.mark.parametrize("case", [c for c in VERTEBRAE_META["postprocess"] if c["error"] is None],
                         ids=_ids([c for c in VERTEBRAE_META["postprocess"] if c["error"] is None]))
def test_postprocess_vertebrae_pp_is_the_official(case):
    name = case["name"]
    labels = VERTEBRAE[f"{name}/labels"]
    ours = postprocess_vertebrae_pp(labels, VERTEBRA_NAMES, spacing_mm=np.float32(case["spacing"]))
    _assert_identical(ours, VERTEBRAE[f"{name}/expected"])


@pytest.mark.parametrize("case", [c for c in VERTEBRAE_META["postprocess"] if c["error"] is not None],
                         ids=_ids([c for c in VERTEBRAE_META["postprocess"] if c["error"] is not None]))
def test_where_the_official_raises_the_one_kept_body_takes_the_highest_present_id(case):
    assert case["error"] == "IndexError"
    labels = VERTEBRAE[f"{case['name']}/labels"]
    renumbered = renumber_vertebrae(labels, VERTEBRA_NAMES, spacing_mm=case["spacing"])
    ids = np.unique(renumbered[renumbered > 0])
    assert ids.tolist() == [int(labels[renumbered > 0].max())]
    assert postprocess_vertebrae_pp(labels, VERTEBRA_NAMES, spacing_mm=case["spacing"]).dtype == np.uint8


@pytest.mark.parametrize("case", VERTEBRAE_META["refine"], ids=_ids(VERTEBRAE_META["refine"]))
def test_refine_vertebrae_pp_is_the_official(case):
    name = case["name"]
    ours = refine_vertebrae_pp(VERTEBRAE[f"{name}/labels"], VERTEBRAE[f"{name}/body"], VERTEBRA_NAMES,
                               spacing_mm=case["spacing"])
    _assert_identical(ours, VERTEBRAE[f"{name}/expected"])


def test_ellipsoid_kernels_are_the_official():
    for case in VERTEBRAE_META["kernels"]:
        ours = ellipsoid_kernel(case["spacing"], case["radius_mm"])
        official = VERTEBRAE[f"{case['name']}/expected"]
        assert ours.shape == official.shape and np.array_equal(ours, official), case


@pytest.mark.parametrize("case", BLOBS_META["cases"], ids=_ids(BLOBS_META["cases"]))
def test_per_label_blob_filters_are_the_official(case):
    name, inverse = case["name"], {v: k for k, v in BLOB_NAMES.items()}
    labels, ids = BLOBS[f"{name}/labels"], [inverse[roi] for roi in case["rois"]]
    if case["kind"] == "largest":
        ours = keep_largest_blob_per_label(labels, ids)
    else:
        ours = remove_small_blobs_per_label(labels, ids, min_voxels=case["mm3"] / voxel_volume_mm3(case["spacing"]))
    _assert_identical(ours, BLOBS[f"{name}/expected"])


@pytest.mark.parametrize("case", MASKS_META["cases"], ids=_ids(MASKS_META["cases"]))
def test_label_and_mask_removal_is_the_official(case):
    name = case["name"]
    if case["kind"] == "aux":
        ours = remove_labels(MASKS[f"{name}/labels"], case["ids"])
    else:
        mask = MASKS["outside/mask"]
        mask = np.zeros_like(mask) if case["empty_mask"] else mask
        ours = remove_outside_of_mask(MASKS["outside/labels"], mask, dilation_voxels=case["addon"])
    _assert_identical(ours, MASKS[f"{name}/expected"])


def test_outside_margins_in_voxels_are_the_official():
    for margin in MASKS_META["margins"]:
        assert outside_dilation_voxels(margin["mm"], margin["spacing"]) == margin["voxels"], margin


@pytest.mark.parametrize("case", SKIN_META["cases"], ids=_ids(SKIN_META["cases"]))
def test_body_and_skin_are_the_official(case):
    name = case["name"]
    names = {int(k): v for k, v in SKIN_META["class_map"].items()}
    body = body_mask(SKIN[f"{name}/labels"], names)
    _assert_identical(body, SKIN[f"{name}/body"])
    _assert_identical(extract_skin(SKIN[f"{name}/ct"], body), SKIN[f"{name}/expected"])
