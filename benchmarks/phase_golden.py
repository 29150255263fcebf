"""Golden data for ``totalseg phase`` and ``totalseg modality``, computed by the official tool itself.

Run with the official tool's Python (TotalSegmentator 2.18.0 plus xgboost, which its phase and
modality commands need)::

    .bench/official-venv/bin/python benchmarks/phase_golden.py

It writes ``tests/data/phase_golden/``:

- ``phase.npz``: 200 seeded feature vectors (16 organ medians + 4 neck vessel medians, some
  structures absent, some without neck features), each fold's prediction by the official unpickled
  ``XGBRegressor`` (float32) and the result dict the official ``get_ct_contrast_phase`` returns for
  each vector (as JSON lines, the model runs replaced by the vector's statistics);
- ``phase_thresholds.json``: the official ``pi_time_to_phase`` at and around every threshold;
- ``modality.npz``: seeded vectors for both modality classifier sets, each fold's label and margin
  from the official ``XGBClassifier``, and the result dicts of ``get_modality`` (on small images)
  and ``get_modality_from_rois`` (the model run replaced by the vector's statistics), and the
  features and result of ``get_modality`` on ``tests/data/ct_small_3mm.nii.gz``;
- copies of the official classifier files (the test suite reads the real files).

Unpickling the phase classifiers is the official tool's own code path; it happens only here.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "phase_golden"
PHASE_FILE = "contrast_phase_classifiers_2024_07_19.pkl"
MODALITY_FILES = [f"modality_classifiers{kind}_2025_02_24.json.{fold}" for kind in ("", "_normalized")
                  for fold in range(5)]
N_VECTORS = 200
# the official feature order, as get_ct_contrast_phase builds it
PHASE_ORGANS = ["liver", "pancreas", "urinary_bladder", "gallbladder", "heart", "aorta", "inferior_vena_cava",
                "portal_vein_and_splenic_vein", "iliac_vena_left", "iliac_vena_right", "iliac_artery_left",
                "iliac_artery_right", "pulmonary_vein", "brain", "colon", "small_bowel",
                "internal_carotid_artery_right", "internal_carotid_artery_left", "internal_jugular_vein_right",
                "internal_jugular_vein_left"]


def phase_vectors(rng: np.random.Generator) -> np.ndarray:
    """Medians as the statistics give them (integers and halves), 0.0 for absent structures."""
    x = np.round(rng.uniform(-120, 450, (N_VECTORS, 20)) * 2) / 2
    x[rng.random(x.shape) < 0.12] = 0.0
    x[: N_VECTORS // 4, 16:] = 0.0  # no brain: the official tool sets the neck features to 0
    x[N_VECTORS // 4: N_VECTORS // 4 + 10, :16] = rng.uniform(-1000, 3000, (10, 16)).round()  # extremes
    return x


def phase_golden(rng: np.random.Generator) -> None:
    import pickle

    from totalsegmentator.bin import totalseg_get_phase as official

    path = resources.files("totalsegmentator") / "resources" / PHASE_FILE
    with open(path, "rb") as fh:
        clfs = pickle.load(fh)
    x = phase_vectors(rng)
    preds = np.stack([np.stack([clf.predict(x[i: i + 1])[0] for i in range(len(x))]) for clf in clfs.values()],
                     axis=1)
    organs = PHASE_ORGANS
    results = []
    for row in x:
        stats = {name: {"volume": 0.0, "intensity": float(v)} for name, v in zip(organs[:16], row[:16])}
        stats["brain"]["volume"] = 1000.0 if row[16:].any() else 0.0
        neck = {name: {"volume": 1.0, "intensity": float(v)} for name, v in zip(organs[16:], row[16:])}
        official.totalsegmentator = lambda *a, _neck=neck, **k: (None, _neck)
        steps = list(official.get_ct_contrast_phase(nib.Nifti1Image(np.zeros((2, 2, 2)), np.eye(4)), quiet=True,
                                                    existing_stats=stats, model_file=str(path)))
        results.append(steps[-1]["result"])
    np.savez_compressed(OUT / "phase.npz", features=x, fold_predictions=preds.astype(np.float32),
                        results=np.array([json.dumps(r) for r in results]))
    times = sorted({t + d for t in (0, 5, 10, 20, 30, 50, 60, 70, 90, 100, 150) for d in (-0.01, 0.0, 0.01)})
    table = [[t, *official.pi_time_to_phase(t)] for t in times]
    (OUT / "phase_thresholds.json").write_text(json.dumps(table, indent=1) + "\n")
    shutil.copyfile(path, OUT / PHASE_FILE)


def modality_golden(rng: np.random.Generator) -> None:
    import xgboost as xgb
    from totalsegmentator.bin import totalseg_get_modality as official

    res = resources.files("totalsegmentator") / "resources"
    out: dict[str, np.ndarray] = {}
    # image-level features: a CT-like and an MR-like half, plus the features of small random images
    images = []
    for i in range(40):
        ct = i % 2 == 0
        lo, hi = (-1024, rng.uniform(200, 3000)) if ct else (0, rng.uniform(50, 4000))
        arr = rng.uniform(lo, hi, (6, 5, 4)).round()
        arr[rng.random(arr.shape) < 0.5] = lo
        images.append(arr)
    image_results = [official.get_modality(nib.Nifti1Image(a, np.eye(4))) for a in images]
    plain = np.concatenate([np.column_stack([rng.uniform(-1100, 500, 160), rng.uniform(0, 1500, 160),
                                             rng.uniform(-3000, 100, 160), rng.uniform(0, 5000, 160)]),
                            np.array([official.get_features(nib.Nifti1Image(a, np.eye(4))) for a in images])])
    normalized = rng.uniform(0, 1, (200, 16))
    normalized[rng.random(normalized.shape) < 0.1] = 0.0
    roi_results = []
    organs = ["brain", "esophagus", "colon", "spinal_cord", "scapula_left", "scapula_right", "femur_left",
              "femur_right", "hip_left", "hip_right", "gluteus_maximus_left", "gluteus_maximus_right",
              "autochthon_left", "autochthon_right", "iliopsoas_left", "iliopsoas_right"]
    for row in normalized:
        stats = {name: {"volume": 1.0, "intensity": float(v)} for name, v in zip(organs, row)}
        official.totalsegmentator = lambda *a, _s=stats, **k: (None, _s)
        roi_results.append(official.get_modality_from_rois(nib.Nifti1Image(np.zeros((2, 2, 2)), np.eye(4)), "cpu"))
    for kind, x in (("plain", plain), ("normalized", normalized)):
        labels, margins = [], []
        for fold in range(5):
            clf = xgb.XGBClassifier()
            suffix = "" if kind == "plain" else "_normalized"
            clf.load_model(str(res / f"modality_classifiers{suffix}_2025_02_24.json.{fold}"))
            labels.append([clf.predict([list(v)])[0] for v in x])
            margins.append(clf.get_booster().predict(xgb.DMatrix(x), output_margin=True, validate_features=False))
        out[f"{kind}_features"] = x
        out[f"{kind}_labels"] = np.array(labels).T.astype(np.int8)
        out[f"{kind}_margins"] = np.array(margins, dtype=np.float32).T
    ct_small = nib.load(OUT.parent / "ct_small_3mm.nii.gz")
    out["ct_small_features"] = np.array(official.get_features(ct_small))
    out["ct_small_result"] = np.array(json.dumps(official.get_modality(ct_small)))
    out["images"] = np.stack(images)
    out["image_results"] = np.array([json.dumps(r) for r in image_results])
    out["normalized_results"] = np.array([json.dumps(r) for r in roi_results])
    np.savez_compressed(OUT / "modality.npz", **out)
    for name in MODALITY_FILES:
        shutil.copyfile(res / name, OUT / name)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    phase_golden(np.random.default_rng(2180))
    modality_golden(np.random.default_rng(2181))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
