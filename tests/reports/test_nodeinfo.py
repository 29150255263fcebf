"""The node-info metadata the aorta and pulmonary reports share (reports/nodeinfo.py)."""

from __future__ import annotations

import json

import pytest

from totalseg.errors import InputError
from totalseg.reports.aorta.definitions import REPORT_VERSION as AORTA_VERSION
from totalseg.reports.nodeinfo import report_metadata
from totalseg.reports.pulmonary.landmarks import VERSION as PULMONARY_VERSION


def test_both_reports_read_a_node_info_alike_but_for_the_version(tmp_path):
    info = tmp_path / "nodeinfo.json"
    info.write_text(json.dumps({"PatientsAge": "061Y", "PatientsSex": "F", "PatientID": "x"}))
    aorta, pulmonary = (report_metadata(info, version=v) for v in (AORTA_VERSION, PULMONARY_VERSION))
    assert aorta["version"] != pulmonary["version"]
    assert {k: v for k, v in aorta.items() if k != "version"} == {k: v for k, v in pulmonary.items() if k != "version"}
    assert list(aorta) == ["PatientID", "PatientAge", "PatientSex", "version"]
    assert aorta["PatientAge"] == 61


def test_no_node_info_file_gives_the_official_defaults(tmp_path):
    default = report_metadata(None, version=PULMONARY_VERSION)
    assert report_metadata(tmp_path / "absent.json", version=PULMONARY_VERSION) == default
    assert default["PatientAge"] == 83 and default["StudyDate"] == "19000101" and default["version"] == "0.2.1"


@pytest.mark.parametrize(("text", "words"), [("[1, 2]", "expected a JSON object"), ("{", "cannot read"),
                                             ('{"PatientAge": "099W"}', "in weeks"),
                                             ('{"PatientAge": "151Y"}', "outside 5-150")])
def test_what_the_official_stops_on_is_refused_in_one_line(tmp_path, text, words):
    info = tmp_path / "nodeinfo.json"
    info.write_text(text)
    with pytest.raises(InputError, match=words) as caught:
        report_metadata(info, version="0")
    assert "\n" not in str(caught.value)


def test_an_absent_age_is_the_official_099y(tmp_path):
    info = tmp_path / "nodeinfo.json"
    info.write_text("{}")
    assert report_metadata(info, version="0") == {"PatientAge": 99, "version": "0"}
