"""Library results as tables for the pages: statistics, clinical findings, Dice scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def statistics_frame(stats: Mapping[str, Mapping[str, Any]], *, present_only: bool = True) -> pd.DataFrame:
    """One row per structure: volume in mL and mean intensity (HU for CT).

    Structures cut off by the image border have volume 0 in ``statistics.json`` (the official
    rule); they are kept with ``complete = False`` so the table says why they read 0.

    Examples:
        >>> statistics_frame({"liver": {"volume": 1500000.0, "intensity": 55.2}, "spleen": {"volume": 0.0,
        ...     "intensity": 0.0}}, present_only=True).to_dict("records")
        [{'structure': 'liver', 'volume_ml': 1500.0, 'mean_hu': 55.2}]
    """
    rows = [
        {"structure": name, "volume_ml": round(float(v["volume"]) / 1000.0, 2), "mean_hu": float(v["intensity"])}
        for name, v in stats.items()
    ]
    frame = pd.DataFrame(rows, columns=["structure", "volume_ml", "mean_hu"])
    if present_only:
        frame = frame[frame["volume_ml"] > 0].reset_index(drop=True)
    return frame


def findings_frame(clinical: Mapping[str, Any]) -> pd.DataFrame:
    """One row per clinical measurement: value, unit, flag, finding, thresholds and source."""
    rows = []
    for key, m in clinical.get("measurements", {}).items():
        thresholds = m.get("thresholds") or {}
        rows.append({
            "measurement": key.replace("_", " "),
            "value": float("nan") if m.get("value") is None else m["value"],  # an empty cell, not "None"
            "unit": m.get("unit", ""),
            "flag": m.get("flag", m.get("status", "")),
            "finding": m.get("finding", ""),
            "thresholds": ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in thresholds.items() if v is not None),
            "source": m.get("source", ""),
        })
    return pd.DataFrame(rows, columns=["measurement", "value", "unit", "flag", "finding", "thresholds", "source"])


def volume_reference_rows(clinical: Mapping[str, Any]) -> pd.DataFrame:
    """Measured organ volumes that have a reference range (mL): organ, value, low, high, flag."""
    rows = []
    for key, m in clinical.get("measurements", {}).items():
        thresholds = m.get("thresholds") or {}
        if m.get("status") == "measured" and m.get("unit") == "mL" and "reference_high_ml" in thresholds:
            rows.append({"organ": key.removesuffix("_volume").replace("_", " "), "value_ml": m["value"],
                         "low_ml": thresholds.get("reference_low_ml"), "high_ml": thresholds["reference_high_ml"],
                         "flag": m.get("flag", "")})
    return pd.DataFrame(rows, columns=["organ", "value_ml", "low_ml", "high_ml", "flag"])


def dice_frame(scores: Mapping[str, tuple[float, float]], voxels_pred: Mapping[str, int],
               voxels_ref: Mapping[str, int]) -> pd.DataFrame:
    """One row per structure: Dice, normalized surface Dice and both voxel counts."""
    rows = [{"structure": n, "dice": d, "nsd": nsd, "voxels_segmentation": voxels_pred.get(n, 0),
             "voxels_reference": voxels_ref.get(n, 0)} for n, (d, nsd) in scores.items()]
    return pd.DataFrame(rows, columns=["structure", "dice", "nsd", "voxels_segmentation", "voxels_reference"])
