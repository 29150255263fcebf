"""The app's pure pieces: plane geometry, windowing, overlays, meshes, uploads, the run queue, the launcher."""

from __future__ import annotations

import doctest
import io
import threading

import numpy as np
import pytest

from totalseg.errors import InputError, WeightsError
from totalseg.ui import case, compare, config, inputs, jobs, launch, mesh, progress, render, tables


@pytest.mark.parametrize("module", [case, compare, config, inputs, jobs, launch, mesh, progress, render, tables])
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=False).failed == 0


@pytest.mark.parametrize("plane", render.PLANES)
def test_pixels_and_voxels_are_inverse(plane):
    shape = (5, 6, 7)
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 1000, shape)
    axis = render.plane_axis(plane)
    index = 3
    section = render.plane_slice(volume, plane, index)
    for row, col in [(0, 0), (section.shape[0] - 1, 1), (2, section.shape[1] - 1)]:
        voxel = render.pixel_to_voxel(plane, index, row, col, shape)
        assert voxel[axis] == index and section[row, col] == volume[voxel]
        assert render.voxel_to_pixel(plane, voxel, shape) == (row, col)


def test_radiological_orientation():
    a = np.zeros((4, 5, 6))
    a[3, 4, 2] = 1  # patient's far right, most anterior
    assert np.argwhere(render.plane_slice(a, "axial", 2)).tolist() == [[0, 0]]  # top left: right and anterior
    a[:] = 0
    a[0, 2, 5] = 1  # patient's left, superior
    assert np.argwhere(render.plane_slice(a, "coronal", 2)).tolist() == [[0, 3]]  # top row, right side


def test_display_scaling_keeps_millimetres_square():
    rgb = np.zeros((10, 20, 3), np.uint8)
    assert render.scale_for_display(rgb, (3.0, 1.5), 200).shape == (200, 200, 3)


def test_overlay_hides_unselected_structures_and_blends():
    grey = np.full((1, 3), 100, np.uint8)
    colors = render.label_colors(2)
    rgb = render.overlay(grey, np.array([[0, 1, 2]]), colors, [2], 0.5)
    assert rgb[0, 0].tolist() == [100] * 3 and rgb[0, 1].tolist() == [100] * 3
    assert rgb[0, 2].tolist() == np.rint(0.5 * 100 + 0.5 * colors[2].astype(float)).astype(int).tolist()


def test_mesh_is_placed_in_millimetres():
    mask = np.zeros((20, 20, 20), bool)
    mask[10:14, 4:8, 2:6] = True
    verts, faces = mesh.structure_mesh(mask, (2.0, 1.0, 3.0))
    assert len(faces) > 0
    assert verts.min(0) == pytest.approx([19.5 * 1, 3.5, 4.5], abs=0.6) or verts.min(0)[0] >= 18
    assert verts[:, 0].min() >= 18 and verts[:, 0].max() <= 28 and verts[:, 2].max() <= 18


def test_upload_names_are_sanitised_and_written_atomically(tmp_path):
    path = inputs.save_upload("..\\..\\evil name.nrrd", io.BytesIO(b"data"), tmp_path)
    assert path == tmp_path / "evil_name.nrrd" and path.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["evil_name.nrrd"]
    with pytest.raises(InputError, match="unsupported file type"):
        inputs.save_upload("scan.dcm.txt", io.BytesIO(b""), tmp_path)


def test_server_files_stay_inside_the_data_folder(tmp_path):
    (tmp_path / "a.nii.gz").write_bytes(b"x")
    (tmp_path / "b.txt").write_text("x")
    assert inputs.server_files(tmp_path) == ["a.nii.gz"]
    assert inputs.resolve_server_file(tmp_path, "a.nii.gz") == (tmp_path / "a.nii.gz").resolve()
    with pytest.raises(InputError, match="not inside the data folder"):
        inputs.resolve_server_file(tmp_path, "../../etc/passwd")
    with pytest.raises(InputError, match="does not exist"):
        inputs.server_files(tmp_path / "missing")


def test_jobs_report_progress_and_turn_errors_into_messages():
    runner = jobs.JobRunner(workers=1)
    gate = threading.Event()

    def slow(job):
        job.tick()
        gate.wait(5)
        return "ok"

    first = runner.submit(slow, label="first", total_ticks=2)
    second = runner.submit(lambda job: (_ for _ in ()).throw(WeightsError("weights missing; run X")), label="2nd")
    assert runner.ahead_of(second) == 1 and second.fraction == 0.0
    gate.set()
    assert runner.wait(first).result == "ok" and first.fraction == 1.0
    assert runner.wait(second).state == jobs.FAILED and second.error == "weights missing; run X"
    crash = runner.wait(runner.submit(lambda job: 1 / 0, label="bug"))
    assert crash.state == jobs.FAILED and "ZeroDivisionError" in crash.error


def test_config_from_arguments_and_environment():
    cfg = config.AppConfig.from_args(["--workers", "0"], {"TOTALSEG_UI_DATA_DIR": "/srv/ct",
                                                           "TOTALSEG_WEIGHTS_PATH": "/w"})
    assert str(cfg.data_dir) == "/srv/ct" and str(cfg.settings.weights_dir) == "/w" and cfg.workers == 1


def test_launch_command_raises_the_upload_limit_and_passes_options(tmp_path):
    cmd = launch.streamlit_command(host="0.0.0.0", port=8600, data_dir=tmp_path, download=False, workers=2)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("app.py")
    assert int(cmd[cmd.index("--server.maxUploadSize") + 1]) >= 2048
    assert cmd[cmd.index("--") + 1:] == ["--data-dir", str(tmp_path), "--no-download", "--workers", "2"]
    parsed = config.AppConfig.from_args(cmd[cmd.index("--") + 1:], {})
    assert parsed.data_dir == tmp_path and not parsed.download and parsed.workers == 2


def test_packaged_streamlit_config_raises_the_upload_limit():
    import tomllib

    text = (launch.APP_SCRIPT.parent / ".streamlit" / "config.toml").read_text()
    assert tomllib.loads(text)["server"]["maxUploadSize"] == launch.MAX_UPLOAD_MB >= 2048


@pytest.mark.parametrize(("argv", "message"), [
    (["ui", "--data-dir", "/no/such/folder"], "not a folder"),
    (["ui", "--port", "70000"], "not a TCP port"),
])
def test_cli_refuses_bad_options(capsys, argv, message):
    from totalseg.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_session_folder_is_removed_with_the_session_state():
    import gc

    from totalseg.ui.views.session import _Folder

    folder = _Folder()
    path = folder.path
    (path / "upload.nii.gz").write_bytes(b"x")
    del folder  # what dropping a browser session's state does
    gc.collect()
    assert not path.exists()
