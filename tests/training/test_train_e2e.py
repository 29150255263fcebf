"""``totalseg train`` end to end on CPU: phantoms in nnU-Net raw format -> plans, cache, training ->
an nnU-Net v2 model folder that ``totalseg segment --model-dir`` runs -> ``totalseg evaluate`` on
held-out phantoms; plus resume, the checkpoint layout and the errors users see."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from totalseg.cli import main
from totalseg.models.checkpoint import load_checkpoint
from totalseg.training.phantom import write_phantom_dataset
from totalseg.training.planner import PlannerOptions
from totalseg.training.trainer import TrainOptions, train

# nnU-Net's checkpoint keys (nnUNetTrainer.save_checkpoint); its predictor reads these.
NNUNET_KEYS = {"network_weights", "optimizer_state", "grad_scaler_state", "logging", "_best_ema", "current_epoch",
               "init_args", "trainer_name", "inference_allowed_mirroring_axes"}
ORGANS = ("liver", "lung", "bone")  # soft-tissue-like, air-like and dense: three distinct HU ranges
SMALL = ["--config", "3mm", "--features", "16", "--max-features", "64", "--batch-size", "2", "-d", "cpu",
        "--loader-threads", "0", "-q"]


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """Three organs: liver (120 HU in 40 HU soft tissue, the hard one), lung and bone."""
    return write_phantom_dataset(tmp_path_factory.mktemp("train") / "Dataset900_Phantom", n_train=10, n_test=3,
                                 shape=(32, 32, 32), seed=0, organs=ORGANS)


def test_trains_to_high_dice_on_held_out_phantoms(phantoms, tmp_path, one_thread, capsys):
    out = tmp_path / "model"
    rc = main(["train", str(phantoms), "--out", str(out), "--epochs", "16", "--iterations", "50",
               "--val-iterations", "2", "--patch-size", "24", "24", "24", "--lr", "0.03", *SMALL])
    assert rc == 0
    folder = out / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres"
    assert f"{folder} (16 epochs, done, validation mean Dice" in capsys.readouterr().out
    log = json.loads((folder / "fold_0" / "training_log.json").read_text())
    losses = [r["train_loss"] for r in log]
    assert len(log) == 16 and losses[-1] < losses[0] - 0.5
    assert log[-1]["ema_fg_dice"] > log[0]["ema_fg_dice"]
    assert (folder / "fold_0" / "progress.png").is_file() and (folder / "fold_0" / "checkpoint_best.pth").is_file()
    validation = json.loads((folder / "fold_0" / "validation" / "summary.json").read_text())
    assert set(validation["per_case"]) == {"phantom_000", "phantom_007"}  # fold 0 of nnU-Net's 5-fold split

    pred = tmp_path / "pred"
    pred.mkdir()
    for image in sorted((phantoms / "imagesTs").glob("*_0000.nii.gz")):
        case = image.name[: -len("_0000.nii.gz")]
        assert main(["segment", "-i", str(image), "-o", str(pred / f"{case}.nii.gz"), "--ml", "--model-dir",
                     str(out), "-d", "cpu", "-q"]) == 0
    assert main(["evaluate", "--gt", str(phantoms / "labelsTs"), "--pred", str(pred), "--labels",
                 str(phantoms / "dataset.json"), "--out", str(tmp_path / "metrics.json"), "-q"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["per_class"]) == set(ORGANS)
    assert metrics["mean"]["dice"] >= 0.85, metrics["per_class"]
    assert metrics["mean"]["nsd"] >= 0.85, metrics["per_class"]


def test_model_folder_layout_checkpoint_and_resume(phantoms, tmp_path, one_thread):
    planner = PlannerOptions(config="3mm", base_features=4, max_features=8, patch_size=(16, 16, 16), batch_size=2)
    options = TrainOptions(epochs=2, iterations_per_epoch=2, val_iterations=1, loader_threads=0,
                           final_validation=False)
    lines = []
    first = train(phantoms, tmp_path, planner=planner, options=options, device="cpu", quiet=True, log=lines.append)
    folder = first.model_dir
    assert {p.name for p in folder.iterdir()} == {"plans.json", "dataset.json", "fold_0"}
    assert {p.name for p in (folder / "fold_0").glob("checkpoint_*.pth")} >= {"checkpoint_latest.pth",
                                                                              "checkpoint_final.pth"}
    plans = json.loads((folder / "plans.json").read_text())
    assert plans["configurations"]["3d_fullres"]["patch_size"] == [16, 16, 16]
    assert json.loads((folder / "dataset.json").read_text()) == json.loads((phantoms / "dataset.json").read_text())
    state = load_checkpoint(folder / "fold_0" / "checkpoint_final.pth")  # weights_only: no pickled code
    assert NNUNET_KEYS <= set(state) and state["current_epoch"] == 2
    assert state["trainer_name"] == "nnUNetTrainerNoMirroring" and state["inference_allowed_mirroring_axes"] is None
    assert state["init_args"]["configuration"] == "3d_fullres" and len(state["logging"]["train_losses"]) == 2
    assert lines[0].startswith("Plans: spacing [3.0, 3.0, 3.0] mm, patch [16, 16, 16], batch 2")

    with pytest.raises(Exception, match="already holds a trained model; pass --resume"):
        train(phantoms, tmp_path, planner=planner, options=options, device="cpu", quiet=True, log=lines.append)
    more = TrainOptions(epochs=3, iterations_per_epoch=2, val_iterations=1, loader_threads=0, final_validation=False)
    resumed = train(phantoms, tmp_path, options=more, device="cpu", resume=True, quiet=True, log=lines.append)
    assert resumed.epochs_done == 3 and any(line.startswith("Resuming") and "at epoch 2" in line for line in lines)
    state_after = load_checkpoint(folder / "fold_0" / "checkpoint_final.pth")
    assert state_after["current_epoch"] == 3
    assert state_after["logging"]["train_losses"][:2] == state["logging"]["train_losses"]
    changed = [k for k, v in state_after["network_weights"].items() if not torch.equal(v, state["network_weights"][k])]
    assert changed  # the third epoch trained the restored network further


def test_cli_errors_are_one_line(phantoms, tmp_path, capsys):
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "m"), "-q"]) == 2
    assert "dataset.json is missing" in capsys.readouterr().err
    assert main(["train", str(phantoms), "--out", str(tmp_path / "m"), "--resume", "-d", "cpu", "-q"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", str(phantoms), "--out", str(tmp_path / "m"), "--epochs", "0", "-q"]) == 2
    assert "--epochs" in capsys.readouterr().err
    empty = write_phantom_dataset(tmp_path / "Empty", n_train=2, shape=(8, 8, 8))
    for label in (empty / "labelsTr").glob("*.nii.gz"):
        img = nib.load(label)
        nib.save(nib.Nifti1Image(np.zeros(img.shape, np.uint8), img.affine), label)
    assert main(["train", str(empty), "--out", str(tmp_path / "m"), "-d", "cpu", "-q"]) == 2
    assert "every label map is empty" in capsys.readouterr().err


def test_plan_only(phantoms, tmp_path, capsys):
    assert main(["train", str(phantoms), "--out", str(tmp_path), "--plan-only", "--config", "6mm", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    folder = tmp_path / "nnUNetTrainerNoMirroring__nnUNetPlans__3d_fullres"
    assert out[0].startswith("Plans: spacing [6.0, 6.0, 6.0] mm, patch [16, 16, 16], batch 2")
    assert out[-1] == str(folder / "plans.json")
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.json", "plans.json"]
