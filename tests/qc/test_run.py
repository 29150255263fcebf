import json

import numpy as np
import pytest

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.qc import CHECK_NAMES, run_qc, write_qc
from totalseg.qc.faults import swap_left_right


def test_clean_phantom_passes_every_check(clean_report):
    assert [c.name for c in clean_report.checks] == list(CHECK_NAMES)
    assert {c.name: c.status for c in clean_report.checks} == dict.fromkeys(CHECK_NAMES, "ok")
    assert clean_report.status == "ok"


def test_overall_status_is_the_worst_check(faulted):
    report = faulted(swap_left_right)
    assert report.check("laterality").status == "fail"
    assert report.status == "fail"


def test_qc_json_layout(clean_report, tmp_path):
    data = json.loads(write_qc(clean_report, tmp_path / "qc.json").read_text())
    assert set(data) == {"status", "checks"}
    for check in data["checks"]:
        assert set(check) == {"name", "status", "message", "evidence"}
        assert check["status"] in ("ok", "warn", "fail")
        assert check["message"].endswith(".") and "\n" not in check["message"]


def test_labels_off_the_image_grid_are_refused():
    image = Volume(np.zeros((4, 4, 4)), affine=np.eye(4))
    with pytest.raises(InputError, match="grid"):
        run_qc(image, LabelVolume(np.zeros((4, 4, 5), np.uint8), affine=np.eye(4)), {})


def test_unknown_modality_is_refused():
    image = Volume(np.zeros((4, 4, 4)), affine=np.eye(4))
    with pytest.raises(InputError, match="modality"):
        run_qc(image, LabelVolume(np.zeros((4, 4, 4), np.uint8), affine=np.eye(4)), {}, modality="pet")
