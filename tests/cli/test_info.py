"""Task discovery against what the official commands print (tests/data/official_catalog, written by
benchmarks/official_catalog.py from TotalSegmentator 2.18.0): the same tables and JSON."""

import json
from pathlib import Path

import pytest

from totalseg.cli import main

OFFICIAL = Path(__file__).resolve().parents[1] / "data" / "official_catalog"


@pytest.mark.parametrize("argv", [["info", "--list-tasks"], ["segment", "--list-tasks"], ["segment", "-lt"]])
def test_the_task_table_is_the_official_one(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out == (OFFICIAL / "list_tasks.txt").read_text()


@pytest.mark.parametrize("task", ["teeth", "appendicular_bones"])
def test_the_class_listing_is_the_official_one(task, capsys):
    assert main(["segment", "--list-classes", task]) == 0
    assert capsys.readouterr().out == (OFFICIAL / f"list_classes_{task}.txt").read_text()
    assert main(["info", "--classes", "-ta", task]) == 0
    assert capsys.readouterr().out == (OFFICIAL / f"list_classes_{task}.txt").read_text()


def test_json_holds_the_official_registry(capsys):
    assert main(["info", "--list-tasks", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((OFFICIAL / "info_list_tasks.json").read_text())
    assert main(["info", "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["tasks"]
    official = json.loads((OFFICIAL / "info.json").read_text())["tasks"]
    assert list(ours) == list(official) and len(ours) == 53
    for name, entry in official.items():  # the official keys, plus how the task runs
        assert {k: ours[name][k] for k in entry} == entry, name
    assert ours["lung_vessels"]["crop"] == {"classes": ["lung_upper_lobe_left", "lung_lower_lobe_left",
                                                        "lung_upper_lobe_right", "lung_middle_lobe_right",
                                                        "lung_lower_lobe_right"],
                                            "source": "total", "margin_mm": 20, "robust": True}
    assert ours["teeth"]["modes"]["full"] == {"models": [113], "configuration": "3d_lowres_high",
                                              "spacing_mm": [0.5, 0.5, 0.5]}


def test_task_details_name_models_crop_and_steps(capsys):
    assert main(["info", "-ta", "vertebrae_pp_refined"]) == 0
    text = capsys.readouterr().out
    assert "model 803 (3d_fullres) at 1.5 mm" in text and "vertebrae_pp; refine_vertebrae" in text
    assert main(["info", "-ta", "total_highres_test"]) == 0
    assert "publishes no download" in capsys.readouterr().out


def test_segment_without_input_says_what_is_missing(capsys):
    assert main(["segment", "-o", "out"]) == 2
    assert "-i required" in capsys.readouterr().err
