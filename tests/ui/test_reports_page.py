"""The Reports page through streamlit's AppTest: a real body-composition run on an L3 phantom case (its
total labels reused, the other open tasks on tiny seeded weights), a report that cannot be made, an MR case."""

from __future__ import annotations

import json
from dataclasses import replace

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.imaging.volume import LabelVolume
from totalseg.io import read_volume
from totalseg.reports.l3_phantom import write_l3_phantom
from totalseg.ui.case import Case, RunChoice


@pytest.fixture(scope="module")
def l3_case(tmp_path_factory) -> Case:
    """The L3 phantom, segmented with ``total`` (its vertebrae_L3 label)."""
    l3 = write_l3_phantom(tmp_path_factory.mktemp("l3"))
    labels = nib.load(l3.seg_dir / "total.nii.gz")
    return Case(name="l3.nii.gz", path=l3.ct, image=read_volume(l3.ct),
                labels=LabelVolume(np.asanyarray(labels.dataobj), affine=labels.affine), classes=class_map("total"),
                choice=RunChoice(task="total", mode="fastest"), seconds=1.0)


def _errors(at) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def test_body_composition_runs_and_shows_its_page(make_app, l3_case):
    at = make_app(case=l3_case, page="Reports")
    assert _errors(at) == [] and not at.get("download_button")  # nothing runs before the click
    at.selectbox(key="report_name").set_value("body_composition").run()
    at.number_input(key="report_height").set_value(2.0)
    at.button(key="run_report").click().run()
    assert _errors(at) == []
    assert [b.label for b in at.get("download_button")] == ["Report JSON", "Report page (HTML)"]
    frames = at.get("iframe")
    assert len(frames) == 1 and "Body composition at L3" in frames[0].proto.srcdoc
    result, html = next(v for k, v in at.session_state["derived"].items() if k.startswith("report:body_composition"))
    assert html == frames[0].proto.srcdoc
    assert result["level"]["slice_index"] == 5  # the case's own L3 label, not a model's
    assert result["patient"]["height_m"] == 2.0
    sma = result["measurements"]["skeletal_muscle_area"]["value"]
    assert result["measurements"]["skeletal_muscle_index"]["value"] == round(sma / 4.0, 2)
    assert json.loads(json.dumps(result)) == result
    # the case's total labels were handed over; only the other open tasks were segmented (tiny weights)
    cache = next(at.session_state["folder"].path.glob("report-*/reports/body_composition/segmentations"))
    assert sorted(p.name for p in cache.iterdir()) == ["abdominal_muscles.nii.gz", "body.nii.gz",
                                                      "trunk_cavities.nii.gz"]


def test_a_report_that_cannot_be_made_is_one_error_line(make_app, l3_case):
    at = make_app(case=l3_case, page="Reports")
    at.selectbox(key="report_name").set_value("spine").run()
    at.button(key="run_report").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("The spine report could not be made:")
    assert "outside the official spine report's limits" in errors[0] and "totalseg-ui-" not in errors[0]
    assert not at.get("iframe")


def test_an_mr_case_is_refused(make_app, l3_case):
    at = make_app(case=replace(l3_case, choice=RunChoice(task="total_mr")), page="Reports")
    at.button(key="run_report").click().run()
    errors = _errors(at)
    assert len(errors) == 1 and "the reports measure CTs" in errors[0]
