"""What ``totalseg dataset to-nnunet`` writes trains as is: a mock dataset in the Zenodo layout with
oblique affines -> nnU-Net raw -> ``totalseg train`` (official split, validation scored)."""

from __future__ import annotations

import json

from totalseg.cli import main
from totalseg.dataset.synthetic import write_mock_dataset
from totalseg.training.planner import PlannerOptions
from totalseg.training.trainer import TrainOptions, train


def test_to_nnunet_output_trains_and_validates(tmp_path, one_thread):
    zenodo = write_mock_dataset(tmp_path / "ts", n_subjects=6, shape=(20, 18, 14), oblique=True, seed=3)
    raw = tmp_path / "Dataset291_organs"
    assert main(["dataset", "to-nnunet", str(zenodo), str(raw), "--classes", "class_map_part_organs",
                 "--split", "ratio", "-q"]) == 0
    splits = json.loads((raw / "splits_final.json").read_text())[0]
    assert splits["val"] and (raw / "imagesTs").is_dir()  # 60/20/20: train, val -> imagesTr; test -> imagesTs
    planner = PlannerOptions(config="3mm", base_features=4, max_features=8, patch_size=(8, 8, 8), batch_size=2)
    options = TrainOptions(epochs=1, iterations_per_epoch=2, val_iterations=1, loader_threads=0)
    result = train(raw, tmp_path / "model", planner=planner, options=options, device="cpu", quiet=True,
                   log=lambda _: None)
    summary = json.loads((result.model_dir / "fold_0" / "validation" / "summary.json").read_text())
    assert sorted(summary["per_case"]) == sorted(splits["val"])
    assert result.validation_dice is not None and 0.0 <= result.validation_dice <= 1.0
    labels = json.loads((result.model_dir / "dataset.json").read_text())["labels"]
    assert labels == json.loads((raw / "dataset.json").read_text())["labels"] and len(labels) > 2


def test_max_minutes_stops_early_and_writes_the_final_checkpoint(tmp_path, one_thread):
    from totalseg.training.phantom import write_phantom_dataset

    raw = write_phantom_dataset(tmp_path / "D", n_train=3, shape=(16, 16, 16), organs=("bone",))
    planner = PlannerOptions(config="3mm", base_features=4, max_features=8, patch_size=(8, 8, 8), batch_size=2)
    options = TrainOptions(epochs=50, iterations_per_epoch=50, val_iterations=1, loader_threads=0,
                           max_minutes=0.001, final_validation=False)
    result = train(raw, tmp_path / "model", planner=planner, options=options, device="cpu", quiet=True,
                   log=lambda _: None)
    assert result.stopped_early and result.epochs_done == 1
    log = json.loads((result.model_dir / "fold_0" / "training_log.json").read_text())
    assert log[0]["iterations"] < 50
    assert 0 < log[0]["train_seconds"] <= log[0]["seconds"] and log[0]["peak_gpu_memory_gb"] is None  # CPU
    assert (result.model_dir / "fold_0" / "checkpoint_final.pth").is_file()
