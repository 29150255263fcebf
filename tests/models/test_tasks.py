import json
from pathlib import Path

import pytest

from totalseg.errors import InputError
from totalseg.models.tasks import all_models, get_task

CLASS_MAPS = Path(__file__).resolve().parents[1] / "data" / "reference" / "class_maps.json"


def test_registry_models_and_spacings():
    assert [m.model_id for m in get_task("total").models] == [291, 292, 293, 294, 295]
    assert get_task("total", "fast").models[0].model_id == 297 and get_task("total", "fast").spacing_mm == 3.0
    assert get_task("total", "fastest").models[0].model_id == 298
    assert [m.model_id for m in get_task("total_mr").models] == [850, 851]
    assert get_task("total_mr", "fastest").models[0].model_id == 853
    assert get_task("body", "fast").models[0].model_id == 300
    assert len(get_task("total").classes) == 117 and len(get_task("total_mr").classes) == 50


def test_urls_follow_official_release_layout():
    spec = all_models()[297]
    assert spec.url == ("https://github.com/wasserth/TotalSegmentator/releases/download/v2.0.0-weights/"
                        "Dataset297_TotalSegmentator_total_3mm_1559subj.zip")
    assert all_models()[852].release == "v2.5.0-weights"
    assert spec.model_subdir == "nnUNetTrainer_4000epochs_NoMirroring__nnUNetPlans__3d_fullres"


def test_parts_cover_every_class_once():
    for name in ("total", "total_mr"):
        task = get_task(name)
        names = [n for m in task.models for n in m.labels.values()]
        assert sorted(names) == sorted(task.classes.values())


def test_class_maps_equal_the_official_ones():
    """The task maps and every official model's part map, against the official tool's tables."""
    ref = json.loads(CLASS_MAPS.read_text())
    for name in ("total", "total_mr", "body"):
        assert {str(k): v for k, v in get_task(name).classes.items()} == ref[name]
    for model_id, spec in all_models().items():
        part = ref["part_by_model_id"].get(str(model_id))
        if part is not None:  # multi-part models: the part map the official tool merges them with
            official = ref["parts_mr" if model_id >= 850 else "parts"][part]
            assert {str(k): v for k, v in spec.labels.items()} == official, model_id


def test_unknown_task_and_mode():
    with pytest.raises(InputError, match="unknown task 'liver'"):
        get_task("liver")
    with pytest.raises(InputError, match="unknown mode"):
        get_task("total", "turbo")
