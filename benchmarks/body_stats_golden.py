"""Golden files of the official body-statistics estimate (``totalseg_get_body_stats``, the CNN models
the official MCP tool ``estimate_body_statistics`` runs) for ``tests/measure/test_body_stats.py``.

Usage::

    python benchmarks/body_stats_golden.py

The official weights come only from the licence server, so this script writes models of the official
format with seeded weights (``totalseg.measure.body_stats_synthetic``: a half-width ResNet-10 with five
folds, and the multi-head ResNet-10 with one) and lets the official code of TotalSegmentator 2.18.0,
in its own venv (``harness.official_venv``, plus MONAI, which the official CNN loader needs), run
them on the shared 122x101x30 CT:

- ``official_results.json``: per model (with its hyper-parameters, folds and fold setting), the
  result of the official ``get_body_stats`` generator (``model_file`` = the model folder,
  ``model_type`` cnn) and the de-normalized prediction of every fold from the official helpers;
  and the hyper-parameter sets of the inputs below;
- ``official_inputs.npz``: the official ``_prepare_image_tensor`` for several hyper-parameter sets
  (3-D and 2-D models, clipping, scaling, global/channel-wise/non-zero normalization, slice
  orientations, even sampling, the unpack stride, crops and pads).

Both go to ``tests/data/body_stats/``; the test rebuilds the same seeded models and must match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, official_venv

from totalseg.measure.body_stats_model import MODEL_FOLDERS
from totalseg.measure.body_stats_synthetic import MULTIHEAD_CT_HPARAMS, TINY_CT_HPARAMS, write_synthetic_model

CT = ROOT / "tests" / "data" / "ct_small_3mm.nii.gz"
OUT = ROOT / "tests" / "data" / "body_stats"
# name: (hyper-parameters, folds written, the official fold setting)
MODELS = {"tiny_5_folds": (TINY_CT_HPARAMS, (0, 1, 2, 3, 4), "all"),
          "multihead_fold_0": (MULTIHEAD_CT_HPARAMS, (0,), 0)}
INPUTS = {
    "3d_tiny": TINY_CT_HPARAMS,
    "3d_multihead": MULTIHEAD_CT_HPARAMS,
    "2d_multi_orientation": {"dim": 2, "nr_slices": 3, "multi_orientation": True, "crop_size": [48, 48],
                             "clip": True, "clip_low": -1000, "clip_high": 1000, "daug_scale_itensity": True},
    "2d_even_y_global": {"dim": 2, "nr_slices": 5, "multi_orientation": False, "slice_orientation": "y",
                         "sample_evenly": True, "norm_global": True, "global_mean": [-200.0], "global_std": [400.0],
                         "unpack_to_npy": True, "unpack_slice_stride": 2, "crop_size": [64, 32]},
    "2d_x_nonzero_padded": {"dim": 2, "nr_slices": 1, "multi_orientation": False, "slice_orientation": "x",
                            "norm_ignore_zero": True, "crop_size": [200, 60]},
    "3d_whole_stack_norm": {"dim": 3, "crop_size": [30, 30, 50], "norm_channel_wise": False},
}

OFFICIAL = r"""
import json, sys
from pathlib import Path
import nibabel as nib, numpy as np, torch
from totalsegmentator import cnn
from totalsegmentator.bin.totalseg_get_body_stats import get_body_stats

spec = json.loads(Path(sys.argv[1]).read_text())
ct = Path(spec["ct"])
out = {}
for name, model in spec["models"].items():
    folder = Path(model["dir"])
    final = [r for r in get_body_stats(ct, "ct", f_type="niigz", model_file=folder, quiet=True, device="cpu",
                                       fold=model["fold"])][-1]
    folds = cnn._get_fold_indices(model["fold"])
    x = cnn._prepare_image_tensors(nib.load(ct), modality="ct", hparams=cnn._load_fold_hparams(folder, folds[0]))
    preds = []
    with torch.inference_mode():
        for fold in folds:
            net, hp = cnn._load_fold_model(folder, fold, torch.device("cpu"))
            for row in np.atleast_2d(net(x).float().numpy()):
                preds.append(cnn._apply_regression_target_denormalization(row, hp).tolist())
    out[name] = {"result": final["result"], "fold_predictions": preds, "hparams": model["hparams"],
                 "folds": model["folds"], "fold": model["fold"]}
out = {"models": out, "inputs": spec["inputs"]}
Path(spec["results"]).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
arrays = {name: cnn._prepare_image_tensor(nib.load(ct), "ct", hp).numpy()[0] for name, hp in spec["inputs"].items()}
np.savez_compressed(spec["inputs_npz"], **arrays)
"""


def ensure_monai(official_bin: Path) -> None:
    """The official CNN loader imports MONAI, which ``totalsegmentator`` does not install."""
    python = str(official_bin / "python")
    if subprocess.run([python, "-c", "import monai"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "monai"], check=True)


def main() -> None:
    official_bin = official_venv()
    ensure_monai(official_bin)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for name, (hparams, folds, fold) in MODELS.items():
            folder = write_synthetic_model(Path(tmp) / name / MODEL_FOLDERS["ct"], hparams, folds=folds)
            models[name] = {"dir": str(folder), "fold": fold, "folds": list(folds), "hparams": hparams}
        spec = {"ct": str(CT), "models": models, "inputs": INPUTS, "results": str(OUT / "official_results.json"),
                "inputs_npz": str(OUT / "official_inputs.npz")}
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        home = Path(tmp) / "home"  # the official tool wants a stored key (its offline check) before it runs
        home.mkdir()
        (home / "config.json").write_text(json.dumps({"license_number": "aca_ABCDEFGH123456",
                                                      "send_usage_stats": False}))
        env = {**os.environ, "TOTALSEG_HOME_DIR": str(home), "TOTALSEG_WEIGHTS_PATH": tmp}
        subprocess.run([str(official_bin / "python"), "-c", OFFICIAL, str(Path(tmp) / "spec.json")], env=env,
                       check=True, stdout=sys.stderr)
    print(f"wrote {OUT / 'official_results.json'} and {OUT / 'official_inputs.npz'}")


if __name__ == "__main__":
    main()
