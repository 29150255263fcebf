"""Every page of the web app through streamlit's AppTest, with real runs on tiny seeded weights."""

from __future__ import annotations

import gzip
import io
import time
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.anatomy.class_maps import class_map
from totalseg.io import add_label_map_to_nifti
from totalseg.ui.case import Case


def _errors(at) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]
    return [e.value for e in at.error]


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def _run_segmentation(at, timeout_s: float = 90):
    at.get("form_submit_button")[0].click()
    at.run()
    deadline = time.monotonic() + timeout_s
    while "outcome" not in at.session_state and time.monotonic() < deadline:  # the page polls meanwhile
        time.sleep(0.3)
        at.run()
    assert "job" not in at.session_state
    return at.session_state["outcome"]


# Segment page -------------------------------------------------------------------------------------------------

def test_upload_and_segment_the_real_ct(make_app, ct_small_path):
    at = make_app()
    assert len(at.get("form_submit_button")) == 0  # nothing to run before an image
    _upload(at, ct_small_path.name, ct_small_path.read_bytes())
    assert _errors(at) == []
    assert any("122 x 101 x 30 voxels of 3.00 x 3.00 x 3.00 mm" in c.value for c in at.caption)
    assert at.radio(key="mode").value == "fast"  # the default
    at.radio(key="mode").set_value("fastest")  # 6 mm: the quickest real run
    assert at.checkbox(key="bf16").value is False  # identical masks unless asked otherwise
    job = _run_segmentation(at)
    assert _errors(at) == []
    assert job.state == "done" and 0 < job.ticks <= job.total_ticks  # the estimate bounds the real tile count
    case = at.session_state["case"]
    assert case.labels.shape == (122, 101, 30) and case.labels.array.dtype == np.uint8
    assert len(case.classes) == 117 and 0 < len(case.present) <= 117
    assert any(s.value.startswith("Done in") for s in at.success)
    assert case.classes == class_map("total") and case.choice.mode == "fastest"
    assert case.choice.precision == "nnunet"
    assert any(f"({len(case.present)} structures)" in c.value for c in at.sidebar.caption)


def test_the_faster_bfloat16_network_is_an_opt_in(make_app, ct_small_path):
    at = _upload(make_app(), ct_small_path.name, ct_small_path.read_bytes())
    at.radio(key="mode").set_value("fastest")
    at.checkbox(key="bf16").check()
    job = _run_segmentation(at)
    assert _errors(at) == [] and job.state == "done"
    case = at.session_state["case"]
    assert case.choice.precision == "bf16" and case.labels.shape == (122, 101, 30)


def _cut_nifti() -> bytes:
    img = nib.Nifti1Image(np.arange(20**3, dtype=np.int16).reshape(20, 20, 20), np.eye(4))
    data = gzip.compress(img.to_bytes(), mtime=0)
    return data[: len(data) // 2]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("notes.txt", b"hello", "unsupported file type"),
    ("ct.nii.gz", _cut_nifti(), "truncated or corrupt"),
    ("ct.nii.gz", gzip.compress(b"\x5c\x01" + b"\0" * 400, mtime=0)[:60], "not a readable NIfTI image"),
], ids=["wrong type", "truncated", "cut header"])
def test_bad_uploads_give_a_message_and_the_app_keeps_working(make_app, ct_small_path, name, data, expected):
    at = _upload(make_app(), name, data)
    errors = _errors(at)
    assert len(errors) == 1 and expected in errors[0] and "/tmp" not in errors[0] and "Traceback" not in errors[0]
    _upload(at, ct_small_path.name, ct_small_path.read_bytes())
    assert _errors(at) == [] and at.session_state["case"].image.shape == (122, 101, 30)


def test_dicom_zip_without_images_is_explained(make_app):
    pytest.importorskip("totalseg.io.dicom")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("study/readme.txt", "no images here")
        zf.writestr("study/IM0001", b"not dicom" * 20)
    errors = _errors(_upload(make_app(), "series.zip", buffer.getvalue()))
    assert len(errors) == 1 and "DICOM" in errors[0]


def test_missing_weights_fail_the_run_with_a_hint(make_app, ct_small_path, tmp_path):
    at = make_app(weights=tmp_path / "empty")
    _upload(at, ct_small_path.name, ct_small_path.read_bytes())
    job = _run_segmentation(at)
    assert job.state == "failed"
    errors = _errors(at)
    assert len(errors) == 1 and errors[0].startswith("The run failed:") and "totalseg weights" in errors[0]
    assert at.session_state["case"].labels is None  # the image stays open for another try


def test_roi_of_the_other_task_is_refused(make_app, ct_small_path):
    at = make_app()
    _upload(at, ct_small_path.name, ct_small_path.read_bytes())
    at.selectbox(key="task").set_value("total_mr")
    at.multiselect(key="roi").set_value(["rib_left_1"])  # a CT-only structure
    at.get("form_submit_button")[0].click()
    errors = _errors(at.run())
    assert len(errors) == 1 and "rib_left_1" in errors[0] and "total_mr" in errors[0] and "job" not in at.session_state


def test_server_folder_lists_and_opens_images(make_app, ct_small_path, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ct.nii.gz").write_bytes(ct_small_path.read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    at = make_app(data_dir=tmp_path)
    at.radio(key="source").set_value("Server folder").run()
    assert at.selectbox(key="server_file").options == ["sub/ct.nii.gz"]
    at.button(key="open_server").click().run()
    assert _errors(at) == [] and at.session_state["case"].name == "sub/ct.nii.gz"


# Viewer ------------------------------------------------------------------------------------------------------

def test_viewer_without_an_image_says_what_to_do(make_app):
    at = make_app(page="Viewer")
    assert _errors(at) == [] and "Segment" in at.info[0].value


def test_viewer_probe_shows_structure_and_hu(make_app, phantom_case, phantom):
    at = make_app(case=phantom_case, page="Viewer")
    assert _errors(at) == []
    assert [s.label for s in at.slider if s.key.startswith("slice_")] == ["Axial", "Coronal", "Sagittal"]
    x, y, z = 10, 10, 10  # inside the liver box, in RAS (the phantom's affine is diagonal)
    at.slider(key="slice_sagittal").set_value(x)
    at.slider(key="slice_coronal").set_value(y)
    at.slider(key="slice_axial").set_value(z).run()
    probe = [m.value for m in at.markdown if m.value.startswith("**Cursor**")][0]
    assert f"({x}, {y}, {z})" in probe and "**liver**" in probe and f"{phantom.liver_hu} HU" in probe
    at.slider(key="slice_sagittal").set_value(0).run()
    probe = [m.value for m in at.markdown if m.value.startswith("**Cursor**")][0]
    assert "**background**" in probe and "-1000 HU" in probe


def test_viewer_of_an_unsegmented_mr_uses_an_intensity_window(make_app, phantom_case):
    from dataclasses import replace

    mr = phantom_case.image.with_data(phantom_case.image.array.astype(np.int16) + 1000)  # MR: no negative values
    at = make_app(case=replace(phantom_case, image=mr, labels=None, choice=None), page="Viewer")
    assert _errors(at) == []
    window = at.get("segmented_control")[0]
    assert window.options == ["Auto", "Manual"] and window.value == "Auto"  # HU presets make no sense for MR
    probe = [m.value for m in at.markdown if m.value.startswith("**Cursor**")][0]
    assert "no segmentation yet" in probe and "(intensity)" in probe
    assert len(at.get("plotly_chart")) == 0 and "mesh" not in [w.key for w in at.multiselect]


def test_viewer_overlay_search_window_and_3d(make_app, phantom_case):
    at = make_app(case=phantom_case, page="Viewer")
    at.text_input(key="search").set_value("liv").run()
    shown = at.multiselect(key="shown:liv")
    assert shown.options == ["liver"] and shown.value == [5]
    at.text_input(key="search").set_value("zzz").run()
    assert any("No structure matches" in c.value for c in at.caption)
    at.get("segmented_control")[0].set_value("Manual").run()
    assert at.number_input(key="width").value >= 1
    assert at.multiselect(key="mesh").value == [5, 1]  # the largest structures first
    at.toggle(key="show_3d").set_value(True).run()
    assert _errors(at) == [] and len(at.get("plotly_chart")) == 1


# Measurements ------------------------------------------------------------------------------------------------

def test_measurements_table_findings_and_reference_chart(make_app, phantom_case, phantom):
    at = make_app(case=phantom_case, page="Measurements")
    assert _errors(at) == []
    table = at.dataframe[0].value
    rows = {r.structure: r for r in table.itertuples()}
    assert set(rows) == {"liver", "spleen"}
    assert rows["liver"].volume_ml == pytest.approx(1200.0) and rows["liver"].mean_hu == pytest.approx(phantom.liver_hu)
    assert rows["spleen"].volume_ml == pytest.approx(100.0)
    findings = at.dataframe[1].value
    liver = findings[findings.measurement == "liver volume"].iloc[0]
    assert liver.value == pytest.approx(1200.0) and liver.flag == "normal"
    assert len(at.get("plotly_chart")) == 1
    assert [b.label for b in at.get("download_button")] == ["Download CSV"]


def test_measurements_predict_phase_and_modality_with_the_official_classifiers(make_app, phantom_case, tmp_path):
    import shutil

    from totalseg.anatomy.class_maps import class_map
    from totalseg.measure.classifier_files import FOLDER, MODALITY_FILES, PHASE_FILE
    from totalseg.measure.modality import image_features, load_modality_classifiers, vote
    from totalseg.measure.phase import load_phase_regressors, phase_features, predict_phase
    from totalseg.measure.statistics import compute_statistics

    weights = tmp_path / "weights"  # the classifier files only: no brain in the phantom, so no model runs
    (weights / FOLDER).mkdir(parents=True)
    golden = Path(__file__).resolve().parents[1] / "data" / "phase_golden"
    for file in (PHASE_FILE, *MODALITY_FILES):
        shutil.copyfile(golden / file.name, weights / FOLDER / file.name)
    at = make_app(weights=weights, case=phantom_case, page="Measurements")
    assert not at.dataframe[2:] and at.button(key="predict_phase")
    at.button(key="predict_phase").click().run()
    assert _errors(at) == []
    rows = {r.measure: r for r in at.dataframe[2].value.itertuples()}
    stats = compute_statistics(phantom_case.image, phantom_case.labels, class_map("total"), include_incomplete=True,
                               aggregation="median")
    phase = predict_phase(phase_features(stats, None), load_phase_regressors(weights_dir=weights, download=False))
    modality = vote(image_features(phantom_case.image.array),
                    load_modality_classifiers(normalized=False, weights_dir=weights, download=False))
    assert rows["modality"].value == modality["modality"] == "ct"
    assert rows["modality"].probability == pytest.approx(modality["probability"])
    assert rows["contrast phase"].value == phase["phase"]
    assert rows["contrast phase"].probability == pytest.approx(phase["probability"])
    assert rows["post-injection time (s)"].value.startswith(f"{phase['pi_time']:.1f} (")


def test_measurements_show_the_quality_checks(make_app, phantom_case):
    from totalseg.qc import run_qc

    report = run_qc(phantom_case.image, phantom_case.labels, phantom_case.classes, modality="ct")
    at = make_app(case=phantom_case, page="Measurements")
    assert _errors(at) == []
    assert any(h.value.startswith("Quality control: ") and report.status in h.value for h in at.subheader)
    shown = " ".join(m.value for m in at.markdown)
    for check in report.checks:
        assert (check.message in shown) == (check.status != "ok"), check.name


def test_measurements_need_a_segmentation(make_app, phantom_case):
    from dataclasses import replace

    at = make_app(case=replace(phantom_case, labels=None), page="Measurements")
    assert _errors(at) == [] and "needs a segmentation" in at.info[0].value


# Compare -----------------------------------------------------------------------------------------------------

def _reference_bytes(case: Case, labels: np.ndarray, names: dict[int, str] | None) -> bytes:
    img = nib.Nifti1Image(labels, case.image.affine)
    if names:
        img = add_label_map_to_nifti(img, names)
    return gzip.compress(img.to_bytes())


def test_compare_gives_dice_per_structure(make_app, phantom_case, phantom):
    at = make_app(case=phantom_case, page="Compare")
    ref = np.zeros(phantom_case.image.shape, np.uint8)
    ref[phantom.liver_box] = 2  # its own ids; matched to ours by the label names in the header
    spleen = np.zeros_like(ref, bool)
    spleen[phantom.spleen_box] = True
    ref[np.roll(spleen, 4, axis=0)] = 7  # half of the 8-voxel-thick spleen overlaps
    at.file_uploader(key="reference").set_value(("ref.nii.gz", _reference_bytes(phantom_case, ref,
                                                 {2: "liver", 7: "spleen"}), "application/gzip")).run()
    assert _errors(at) == []
    frame = at.dataframe[0].value.set_index("structure")
    assert frame.loc["liver", "dice"] == pytest.approx(1.0) and frame.loc["spleen", "dice"] == pytest.approx(0.5)
    assert frame.loc["liver", "nsd"] == pytest.approx(1.0)
    assert len(at.get("plotly_chart")) == 1


def test_compare_refuses_a_reference_of_another_grid(make_app, phantom_case):
    at = make_app(case=phantom_case, page="Compare")
    other = _reference_bytes(phantom_case, np.zeros((10, 10, 10), np.uint8), None)
    at.file_uploader(key="reference").set_value(("ref.nii.gz", other, "application/gzip")).run()
    errors = _errors(at)
    assert len(errors) == 1 and "shape (10, 10, 10)" in errors[0] and "this image" in errors[0]


# Export ------------------------------------------------------------------------------------------------------

def test_export_offers_every_file(make_app, phantom_case):
    at = make_app(case=phantom_case, page="Export")
    assert _errors(at) == []
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Masks, one .nii.gz per structure (zip)", "Multilabel NIfTI (label names in the header)",
                      "statistics.json", "clinical.json", "Report (HTML, one page)"]
    assert any("DICOM input" in c.value for c in at.caption)


# Two users ---------------------------------------------------------------------------------------------------

def test_a_queued_run_neither_blocks_its_page_nor_another_user(make_app, phantom_case):
    import threading

    from totalseg.ui.views import session

    gate = threading.Event()
    busy = session.runner(1).submit(lambda job: gate.wait(60), label="another user's run")  # the shared queue
    try:
        first = make_app()
        _upload(first, "phantom.nii.gz", phantom_case.path.read_bytes())
        first.radio(key="mode").set_value("fastest")
        first.get("form_submit_button")[0].click()
        first.run()  # returns at once: the run waits in the queue
        waiting = [p.proto.text for p in first.get("progress")]
        assert waiting == ["Waiting: 1 run(s) ahead of yours"] and first.session_state["job"].state == "queued"
        second = make_app(case=phantom_case, page="Measurements")  # another user works meanwhile
        assert _errors(second) == [] and len(second.dataframe[0].value) == 2
    finally:
        gate.set()
    session.runner(1).wait(busy)
    deadline = time.monotonic() + 60
    while "outcome" not in first.session_state and time.monotonic() < deadline:
        time.sleep(0.3)
        first.run()
    assert first.session_state["outcome"].state == "done" and _errors(first) == []
    assert first.session_state["case"].labels.shape == phantom_case.image.shape
