"""`totalseg segment` and `totalseg.segment()` end to end, good and bad inputs."""

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import totalseg
from totalseg.cli import main
from totalseg.io.nifti_ext import load_label_map
from totalseg.models.tasks import get_task


@pytest.fixture()
def env(tiny_weights, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tiny_weights.parent))
    return tiny_weights


def test_per_class_outputs(env, ct_small_path, tmp_path):
    out = tmp_path / "seg"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "--fast", "-q", "-d", "cpu"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{n}.nii.gz" for n in get_task("total").classes.values())
    ref = nib.load(ct_small_path)
    liver = nib.load(out / "liver.nii.gz")
    assert liver.get_data_dtype() == np.uint8 and liver.shape == ref.shape
    np.testing.assert_array_equal(liver.affine, ref.affine)


def test_multilabel_output_matches_api_and_per_class(env, ct_small_path, tmp_path):
    ml = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(ml), "-f", "-ml", "-q", "-d", "cpu"]) == 0
    img = nib.load(ml)
    assert img.get_data_dtype() == np.uint8
    assert load_label_map(img) == get_task("total").classes
    api = totalseg.segment(nib.load(ct_small_path), fast=True, quiet=True, device="cpu")
    assert np.array_equal(np.asanyarray(img.dataobj), np.asanyarray(api.dataobj))
    per_class = tmp_path / "pc"
    totalseg.segment(ct_small_path, per_class, fast=True, quiet=True, device="cpu")
    liver = np.asanyarray(nib.load(per_class / "liver.nii.gz").dataobj)
    assert np.array_equal(liver, (np.asanyarray(img.dataobj) == 5).astype(np.uint8))


def test_bf16_precision_is_an_opt_in_close_to_the_default(env, ct_small_path, tmp_path):
    outs = {}
    for precision in ("nnunet", "bf16"):
        outs[precision] = tmp_path / f"{precision}.nii.gz"
        assert main(["segment", "-i", str(ct_small_path), "-o", str(outs[precision]), "-f", "-ml", "-q",
                     "-d", "cpu", "--precision", precision]) == 0
    exact, bf16 = (np.asanyarray(nib.load(p).dataobj) for p in outs.values())
    assert bf16.dtype == np.uint8 and bf16.shape == exact.shape
    assert 0.8 < (exact == bf16).mean() < 1  # random weights: many near-ties, so some voxels flip


def test_roi_subset_writes_only_those_classes(env, ct_small_path, tmp_path):
    out = tmp_path / "roi"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "-f", "-rs", "liver", "spleen", "-q",
                 "-d", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["liver.nii.gz", "spleen.nii.gz"]


def test_four_d_input_uses_first_volume(env, ct_small_path, tmp_path):
    ref = nib.load(ct_small_path)
    four_d = np.stack([np.asanyarray(ref.dataobj), np.zeros(ref.shape, np.int16)], axis=-1)
    path = tmp_path / "4d.nii.gz"
    nib.save(nib.Nifti1Image(four_d, ref.affine), path)
    with pytest.warns(UserWarning, match="using the first 3-D volume only"):
        seg4 = totalseg.segment(path, fast=True, quiet=True, device="cpu")
    seg3 = totalseg.segment(ref, fast=True, quiet=True, device="cpu")
    assert np.array_equal(np.asanyarray(seg4.dataobj), np.asanyarray(seg3.dataobj))


def bad_inputs(tmp_path, ct_small_path):
    text = tmp_path / "notes.nii.gz"
    text.write_text("this is not an image")
    truncated = tmp_path / "trunc.nii.gz"
    truncated.write_bytes(ct_small_path.read_bytes()[:20000])
    two_d = tmp_path / "slice.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 10), np.int16), np.eye(4)), two_d)
    nans = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(np.full((10, 10, 10), np.nan, np.float32), np.eye(4)), nans)
    empty = tmp_path / "empty.nii.gz"
    empty.write_bytes(b"")
    return {"text": text, "truncated": truncated, "2d": two_d, "nan": nans, "empty": empty,
            "missing": tmp_path / "missing.nii.gz", **hostile_inputs(tmp_path)}


def hostile_inputs(tmp_path):
    """Valid containers with absurd content: each must end in one line and exit 2, in bounded memory."""
    header = nib.Nifti1Header()
    header.set_data_dtype(np.int16)
    header.set_data_shape((30000, 30000, 30000))  # 54 TB claimed ...
    header["vox_offset"] = 352
    giant = tmp_path / "giant.nii"
    giant.write_bytes(header.binaryblock + b"\0" * 4 + b"\1" * 100)  # ... over 100 bytes
    giant_gz = tmp_path / "giant.nii.gz"
    giant_gz.write_bytes(gzip.compress(giant.read_bytes()))
    giant_nrrd = tmp_path / "giant.nrrd"
    giant_nrrd.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nspace: left-posterior-superior\n"
                           b"sizes: 30000 30000 30000\nencoding: gzip\n"
                           b"space directions: (1,0,0) (0,1,0) (0,0,1)\nendian: little\n\n"
                           + gzip.compress(b"\0" * 1000))
    huge_voxels = tmp_path / "metres.nii.gz"  # 1e4 mm voxels: ~1e17 voxels at 3 mm
    nib.save(nib.Nifti1Image(np.full((20, 20, 20), 40, np.int16), np.diag([1e4, 1e4, 1e4, 1])), huge_voxels)
    one_voxel = tmp_path / "voxel.nii.gz"
    nib.save(nib.Nifti1Image(np.full((1, 1, 1), 40, np.int16), np.eye(4)), one_voxel)
    return {"giant": giant, "giant-gz": giant_gz, "giant-nrrd": giant_nrrd, "huge-voxels": huge_voxels,
            "one-voxel": one_voxel}


HOSTILE_MESSAGES = {
    "giant": "claims 30000x30000x30000 voxels .* holds 100 bytes of data; the header is corrupt",
    "giant-gz": "claims 30000x30000x30000 voxels .* compressed data; the header is corrupt",
    "giant-nrrd": "claims 30000x30000x30000 voxels .* the header is corrupt",
    "huge-voxels": "grid would be 66667x66667x66667 voxels .* voxel sizes 1e\\+04x1e\\+04x1e\\+04 mm .* implausible",
    "one-voxel": "1x1x1 voxels is too small to hold anatomy; the models need at least 8 x 8 voxels",
}


@pytest.mark.parametrize("case", ["text", "truncated", "2d", "nan", "empty", "missing", *HOSTILE_MESSAGES])
def test_bad_input_one_line_exit_2_nothing_written(env, ct_small_path, tmp_path, capsys, case):
    path = bad_inputs(tmp_path, ct_small_path)[case]
    out = tmp_path / "out"
    assert main(["segment", "-i", str(path), "-o", str(out), "-f", "-q", "-d", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("totalseg: error:")
    assert re.search(HOSTILE_MESSAGES.get(case, ""), err[0]), err[0]
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["-ta", "total", "-rs", "livr"], "unknown ROI class 'livr'.*liver"),
    (["--model-dir", "/nonexistent"], "no nnU-Net model folder"),
    (["-d", "gpu:7"], "not available"),
    (["-d", "tpu"], "not valid"),
    (["--folds", "0"], "--folds and --step_size choose how a --model-dir model runs"),
    (["--step_size", "0.8"], "--folds and --step_size choose how a --model-dir model runs"),
])
def test_bad_options(env, ct_small_path, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "-f", "-q", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0])
    assert not out.exists()


@pytest.mark.parametrize("edit, message", [
    (lambda plans, conf: conf.update(normalization_schemes=["MyNormalization"]),
     "normalization 'MyNormalization' is not supported"),
    (lambda plans, conf: plans.update(image_reader_writer="Tiff3DIO"), "image_reader_writer 'Tiff3DIO'"),
    (lambda plans, conf: conf.update(resampling_fn_data="resample_torch_fornnunet"), "resampling_fn_data"),
    (lambda plans, conf: plans.update(transpose_forward=[2, 0, 1]), "transpose_backward .* does not undo"),
])
def test_plans_values_we_do_not_run_are_refused_in_one_line(env, ct_small_path, tmp_path, capsys, edit, message):
    folder = tmp_path / "model"
    shutil.copytree(env / get_task("total", "fast").models[0].folder / get_task("total", "fast").models[0].model_subdir,
                    folder)
    plans = json.loads((folder / "plans.json").read_text())
    edit(plans, plans["configurations"]["3d_fullres"])
    (folder / "plans.json").write_text(json.dumps(plans))
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "--ml", "-q", "--model-dir", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]) and not out.exists()


def test_unknown_task_is_an_argparse_error(ct_small_path, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["segment", "-i", str(ct_small_path), "-o", str(tmp_path / "o"), "-ta", "liver"])
    assert exc.value.code == 2


def test_missing_weights_name_the_zip_and_the_import_command(tmp_path, ct_small_path, monkeypatch, capsys):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "empty-weights"))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path))
    out = tmp_path / "out"
    code = main(["segment", "-i", str(ct_small_path), "-o", str(out), "-f", "-q", "-d", "cpu",
                 "--no-download"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "Dataset297_TotalSegmentator_total_3mm_1559subj.zip" in err[0] and "totalseg weights import" in err[0]
    assert not out.exists()


def test_unwritable_output(env, ct_small_path, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["segment", "-i", str(ct_small_path), "-o", str(blocker), "-f", "-q", "-d", "cpu"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_multilabel_file_without_a_nifti_suffix_is_refused_before_any_work(env, ct_small_path, tmp_path, capsys):
    from totalseg.engine.predictor import network_clock

    passes = network_clock.passes
    out = tmp_path / "seg"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "-f", "-ml", "-q", "-d", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name the multilabel file .nii.gz or .nii" in err[0]
    assert network_clock.passes == passes and not out.exists()  # refused before the network ran


def test_body_seg_is_ignored_with_a_warning_for_an_mr_task(env, ct_small_path):
    plain = totalseg.segment(ct_small_path, task="total_mr", fast=True, quiet=True, device="cpu")
    with pytest.warns(UserWarning, match="--body_seg .* ignored for the MR task total_mr"):
        flagged = totalseg.segment(ct_small_path, task="total_mr", fast=True, body_seg=True, quiet=True, device="cpu")
    assert np.array_equal(np.asanyarray(flagged.dataobj), np.asanyarray(plain.dataobj))


def test_the_command_frees_each_model_the_api_keeps_them(env, ct_small_path, tmp_path):
    from totalseg.models import model

    small = tmp_path / "small.nii.gz"  # 16 x 16 x 8 voxels: one tile per part at 1.5 mm
    nib.save(nib.load(ct_small_path).slicer[50:66, 40:56, 10:18], small)
    model.clear_model_cache()
    out = tmp_path / "cli.nii.gz"
    assert main(["segment", "-i", str(small), "-o", str(out), "-ml", "-q", "-d", "cpu"]) == 0  # 5 parts
    assert model._CACHE == {}  # one image per process: nothing kept
    api = totalseg.segment(small, None, quiet=True, device="cpu")
    assert len(model._CACHE) == 5  # the API keeps them for the next call
    assert np.array_equal(np.asanyarray(nib.load(out).dataobj), np.asanyarray(api.dataobj))


def test_verbose_reports_where_the_time_went(env, ct_small_path, tmp_path, capsys):
    import re

    from totalseg.engine.predictor import network_clock

    before, before_s = network_clock.passes, network_clock.seconds
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "-f", "-ml", "-v", "-d", "cpu"]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("Timing:"))
    stages = dict(re.findall(r"(start-up and reading|weights|prediction|writing) ([0-9.]+) s", line))
    assert list(stages) == ["start-up and reading", "weights", "prediction", "writing"]
    network, passes, total = re.search(r"network ([0-9.]+) s over ([0-9]+) tiles?; total ([0-9.]+) s", line).groups()
    assert int(passes) == network_clock.passes - before > 0  # one pass per tile
    assert network_clock.seconds > before_s
    assert float(network) <= float(stages["prediction"]) <= float(total)  # the network is part of prediction
    assert re.search(rf"Predicting total fast: .*\| +[0-9]+/{passes} \[", err)  # the bar knew the count


def test_model_dir_runs_any_nnunet_folder(env, ct_small_path, tmp_path):
    """nnUNetv2_predict's path and the official --fast path meet where they should: a RAS input on
    the plans grid, the official tile step. (Against nnU-Net itself: tests/engine/test_nnunet_golden.py.)"""
    spec = get_task("total", "fast").models[0]
    folder = env / spec.folder
    via_dir = totalseg.segment(ct_small_path, model_dir=folder, step_size=0.8, quiet=True, device="cpu")
    fast = totalseg.segment(ct_small_path, fast=True, quiet=True, device="cpu")
    assert via_dir.shape == nib.load(ct_small_path).shape
    assert np.array_equal(np.asanyarray(via_dir.dataobj), np.asanyarray(fast.dataobj))
    assert len(np.unique(np.asanyarray(fast.dataobj))) > 5
    half = totalseg.segment(ct_small_path, model_dir=folder, quiet=True, device="cpu")  # nnU-Net's step 0.5
    assert not np.array_equal(np.asanyarray(half.dataobj), np.asanyarray(fast.dataobj))


def test_console_script_entry_point(tmp_path):
    exe = shutil.which("totalseg") or [sys.executable, "-m", "totalseg"]
    cmd = [exe, "--version"] if isinstance(exe, str) else [*exe, "--version"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0 and "totalseg" in result.stdout


def test_v1_order_skip_saving_and_small_blobs_flags(env, ct_small_path, tmp_path):
    from totalseg.anatomy.class_maps import class_map
    from totalseg.io.nifti_ext import load_label_map

    v2 = tmp_path / "v2.nii.gz"
    v1 = tmp_path / "v1.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(v2), "--fast", "--ml", "-q", "-d", "cpu"]) == 0
    assert main(["segment", "-i", str(ct_small_path), "-o", str(v1), "--fast", "--ml", "-v1o", "-q", "-d", "cpu"]) == 0
    a, b = np.asanyarray(nib.load(v2).dataobj), np.asanyarray(nib.load(v1).dataobj)
    assert load_label_map(nib.load(v1)) == class_map("total_v1")
    total, old = class_map("total"), class_map("total_v1")
    for name in ("liver", "spleen", "aorta"):  # the same voxels under v1's number
        v2_id = next(i for i, n in total.items() if n == name)
        v1_id = next(i for i, n in old.items() if n == name)
        assert np.array_equal(a == v2_id, b == v1_id)
    stats_only = tmp_path / "stats_only"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(stats_only), "--fast", "-ss", "-s", "-q",
                 "-d", "cpu"]) == 0
    assert sorted(p.name for p in stats_only.iterdir()) == ["statistics.json"]
    cleaned = tmp_path / "rmb.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(cleaned), "--fast", "--ml", "-rmb", "-q",
                 "-d", "cpu"]) == 0
    c = np.asanyarray(nib.load(cleaned).dataobj)
    assert (c != 0).sum() < (a != 0).sum() and np.all((c == 0) | (c == a))  # only removals


def test_run_report_has_the_official_keys_and_values(env, ct_small_path, tmp_path):
    """The official --report of the same run (tests/data/official_catalog, paths and timings blanked)."""
    import json

    official = json.loads((Path(__file__).resolve().parents[1] / "data" / "official_catalog" /
                           "run_report_fast_roi.json").read_text())
    report = tmp_path / "run.json"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(tmp_path / "segs"), "--fast", "-rs", "liver",
                 "spleen", "--report", str(report), "-q", "-d", "cpu"]) == 0
    ours = json.loads(report.read_text())
    assert list(ours) == [*official, "totalseg_version"]
    blank = {"input", "output", "runtime_seconds", "torch_version", "nnunetv2_version"}
    assert {k: v for k, v in ours.items() if k in official and k not in blank} == \
        {k: v for k, v in official.items() if k not in blank}
    assert ours["output"] == str(tmp_path / "segs") and ours["runtime_seconds"] > 0


def test_save_lowres_keeps_the_model_grid_in_the_input_axis_order(env, ct_small_path, tmp_path, capsys):
    """An LPS, axis-permuted, 2.5 x 1 x 3.2 mm input: the official --fast --ml -sl output of it has
    shape (84, 41, 32) and this affine (TotalSegmentator 2.18.0, same input)."""
    img = nib.load(ct_small_path)
    data = np.ascontiguousarray(np.asanyarray(img.dataobj)[::-1, :, :].transpose(1, 0, 2))
    affine = np.eye(4)
    affine[:3, :3] = [[0, -1, 0], [-2.5, 0, 0], [0, 0, 3.2]]
    affine[:3, 3] = [100, 50, -20]
    source = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), source)
    out = tmp_path / "low.nii.gz"
    assert main(["segment", "-i", str(source), "-o", str(out), "--fast", "--ml", "-sl", "-q", "-d", "cpu"]) == 0
    low = nib.load(out)
    assert low.shape == (84, 41, 32) and low.get_data_dtype() == np.uint8
    official = [[0, -3, 0, 99], [-3, 0, 0, 49], [0, 0, 3, -20], [0, 0, 0, 1]]
    np.testing.assert_allclose(low.affine, official, atol=1e-4)
    assert main(["segment", "-i", str(source), "-o", str(tmp_path / "x.nii.gz"), "--fast", "-sl", "-rs", "liver"]) == 2
    assert "save_lowres is not supported together with cropping" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "why"), [
    (["-t", "project"], "--nora_tag: a hook of the official tool's own imaging platform"),
    (["--test", "1"], "--test: a hook of the official tool's own unit tests"),
    (["-cp", "masks"], "--crop_path: a deprecated path"),
])
def test_official_options_not_carried_out_are_refused_in_one_line(flags, why, tmp_path, capsys):
    for command in (["segment", "-i", "ct.nii.gz", "-o", str(tmp_path / "o")], ["batch", "ct.nii.gz", "-o",
                                                                                 str(tmp_path / "b")]):
        assert main([*command, *flags]) == 2
        err = capsys.readouterr().err
        assert why in err and len(err.strip().splitlines()) == 1


def test_debug_adds_the_traceback_input_and_task_to_an_error(tmp_path, capsys):
    assert main(["segment", "-i", "missing.nii.gz", "-o", str(tmp_path / "o"), "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "totalseg: debug: input missing.nii.gz, task None" in err
    assert err.strip().splitlines()[-1].startswith("totalseg: error: missing.nii.gz")
    assert main(["segment", "-i", "missing.nii.gz", "-o", str(tmp_path / "o")]) == 2
    assert "Traceback" not in capsys.readouterr().err  # without --debug: one line


def test_batch_refuses_save_probabilities_one_file_per_run(tmp_path, capsys):
    assert main(["batch", "ct.nii.gz", "-o", str(tmp_path / "b"), "-sp", "p.npz"]) == 2
    assert "--save_probabilities writes one file per run" in capsys.readouterr().err


def test_save_probabilities_of_a_multi_part_task_are_its_last_models(env, ct_small_path, tmp_path):
    """total_mr runs two models (850, 851): the official tool's file holds the last one's channels."""
    small = tmp_path / "small.nii.gz"
    img = nib.load(ct_small_path)
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj)[40:60, 40:60, 10:20], img.affine), small)
    probs = tmp_path / "p" / "probs.npz"
    assert main(["segment", "-i", str(small), "-o", str(tmp_path / "seg.nii.gz"), "--ml", "-ta", "total_mr",
                 "-sp", str(probs), "-q", "-d", "cpu"]) == 0
    task = get_task("total_mr")
    last = task.models[-1]
    with np.load(probs) as archive:
        p = archive["probabilities"]
    assert p.shape == (len(last.labels) + 1, 20, 40, 40)  # 1.5 mm grid of 3 mm voxels, (Z, Y, X)
    np.testing.assert_allclose(p.sum(0), 1, atol=1e-5)
    assert (tmp_path / "p" / "probs.pkl").is_file() and sorted(p.name for p in (tmp_path / "p").iterdir()) == \
        ["probs.npz", "probs.pkl"]


def test_radiomics_needs_per_class_masks(env, ct_small_path, tmp_path, capsys):
    assert main(["segment", "-i", str(ct_small_path), "-o", str(tmp_path / "s.nii.gz"), "--ml", "-r"]) == 2
    assert "--radiomics measures the per-class mask files" in capsys.readouterr().err
    assert not (tmp_path / "s.nii.gz").exists()


def test_qc_writes_qc_json_beside_the_segmentation(env, ct_small_path, tmp_path):
    from totalseg.imaging.volume import LabelVolume
    from totalseg.io import read_volume
    from totalseg.qc import run_qc

    out = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(ct_small_path), "-o", str(out), "--fast", "--ml", "--qc", "-q", "-d", "cpu",
                 "--height-m", "1.8", "--weight-kg", "80"]) == 0
    written = json.loads((tmp_path / "qc.json").read_text())
    labels = nib.load(out)
    expected = run_qc(read_volume(ct_small_path), LabelVolume(np.asanyarray(labels.dataobj), affine=labels.affine),
                      load_label_map(labels), height_m=1.8, weight_kg=80).to_dict()
    volumes = next(c for c in written["checks"] if c["name"] == "volumes")
    assert volumes["evidence"]["body_surface_area_m2"] == 2.0
    assert written == json.loads(json.dumps(expected))
    with pytest.raises(totalseg.errors.InputError, match="--qc writes qc.json beside the segmentation"):
        totalseg.segment(ct_small_path, None, fast=True, qc=True, quiet=True)
    with pytest.raises(totalseg.errors.InputError, match="give both height and weight"):
        totalseg.segment(ct_small_path, tmp_path / "x", fast=True, qc=True, quiet=True, height_m=1.8)
