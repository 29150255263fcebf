"""The spine report's JSON: the official ``results`` and ``metadata``, and our additions apart.

``results`` holds, per measured vertebra in spine order, the official keys
``<name>_height_{posterior,middle,anterior}_mm`` (2 decimals), ``<name>_height_difference``
(``1 - min/max`` of the positive heights, in whole percent / 100), ``<name>_volume_ml``,
``<name>_intensity`` (mean HU) and ``<name>_intensity_median``, then ``LWS_max`` (the largest height
difference of L1-L5, ``None`` without one). ``metadata`` is the official patient block.

Our additions live under one separate key, :data:`ADDITIONS_KEY`, so the official keys stay as they
are: the Genant grade of each measured vertebra (Genant HK, Wu CY, van Kuijk C, Nevitt MC. Vertebral
fracture assessment using a semiquantitative technique. J Bone Miner Res 1993;8:1137-48: height loss
20-25 % mild, 25-40 % moderate, > 40 % severe), the vertebrae that could not be measured and why,
and the official front page's lumbar findings (height difference > 0.2; median HU below 90.25, plus
20 HU in the arterial and 14.75 HU in the portal venous phase).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from totalseg.errors import InputError
from totalseg.reports.spine.heights import height_loss_fraction, height_loss_percent
from totalseg.reports.spine.vertebrae import SpineMeasurement

ADDITIONS_KEY = "totalseg_additions"
OFFICIAL_VERSION = "0.1.0"  # the official spine report's own version, written into metadata
HU_THRESHOLD = 90.25  # official: below this median HU a lumbar body counts as low attenuation
PHASE_HU_ADDON = {"arterial": 20.0, "portal_venous": 14.75}
FRACTURE_DIFFERENCE = 0.2  # official front page: lumbar height difference above this
LUMBAR = ("L1", "L2", "L3", "L4", "L5")
GENANT = ((0.40, 3, "severe"), (0.25, 2, "moderate"), (0.20, 1, "mild"))
DEFAULT_METADATA = {"PatientName": "Unknown", "PatientSex": "M", "PatientAge": "099Y",
                    "PatientBirthDate": "19010101", "PatientID": "Unknown", "StudyID": "Unknown",
                    "StudyDescription": "Unknown", "StudyDate": "20250101"}


def official_results(spine: SpineMeasurement) -> dict[str, Any]:
    """The official ``results`` dict, keys in the official order.

    Examples:
        >>> official_results(SpineMeasurement(()))
        {'LWS_max': None}
    """
    results: dict[str, Any] = {}
    lumbar = []
    for v in spine.vertebrae:
        for line in v.heights:
            results[f"{v.name}_height_{line.position}_mm"] = round(line.height_mm, 2)
        difference = height_loss_percent([line.height_mm for line in v.heights]) / 100.0
        results[f"{v.name}_height_difference"] = round(difference, 3)
        if any(v.name.endswith(f"_{name}") for name in LUMBAR):
            lumbar.append(difference)
        results[f"{v.name}_volume_ml"] = round(v.volume_mm3 / 1000.0, 2)
        results[f"{v.name}_intensity"] = round(v.mean_hu, 2)
        results[f"{v.name}_intensity_median"] = round(v.median_hu, 2)
    results["LWS_max"] = round(max(lumbar), 3) if lumbar else None
    return results


def genant_grade(height_loss: float) -> tuple[int, str]:
    """Genant's semiquantitative grade of a height loss (a fraction; boundaries go to the higher grade
    except 40 %, which is still moderate).

    Examples:
        >>> genant_grade(0.18), genant_grade(0.22), genant_grade(0.25), genant_grade(0.41)
        ((0, 'normal'), (1, 'mild'), (2, 'moderate'), (3, 'severe'))
    """
    for bound, grade, name in GENANT:
        if height_loss > bound if grade == 3 else height_loss >= bound:
            return grade, name
    return 0, "normal"


def additions(spine: SpineMeasurement, results: Mapping[str, Any], phase: str) -> dict[str, Any]:
    """Our block: Genant grades, the vertebrae not measured, and the lumbar findings.

    Examples:
        >>> spine = SpineMeasurement((), {"vertebrae_L1": "not measurable, because ..."})
        >>> extra = additions(spine, {"LWS_max": None}, "arterial")
        >>> extra["not_measured"], extra["lumbar_findings"]["hu_threshold"]
        ({'vertebrae_L1': 'not measurable, because ...'}, 110.25)
    """
    genant = {}
    for v in spine.vertebrae:
        loss = height_loss_fraction([line.height_mm for line in v.heights])
        if loss is None:
            genant[v.name] = {"grade": None, "height_loss_percent": None,
                              "note": "not measurable, because fewer than two heights were found"}
            continue
        grade, name = genant_grade(loss)
        genant[v.name] = {"grade": grade, "grade_name": name, "height_loss_percent": round(loss * 100, 1)}
    threshold = HU_THRESHOLD + PHASE_HU_ADDON.get(phase, 0.0)
    high = [n for n in LUMBAR if f"vertebrae_{n}_intensity" in results
            and results[f"vertebrae_{n}_height_difference"] > FRACTURE_DIFFERENCE]
    low = [n for n in LUMBAR if f"vertebrae_{n}_intensity" in results
           and results[f"vertebrae_{n}_intensity_median"] < threshold]
    return {
        "genant": genant,
        "genant_reference": "Genant HK et al. J Bone Miner Res 1993;8:1137-48 (height loss 20-25 % mild, "
                            "25-40 % moderate, > 40 % severe; measured as 1 - min/max of the three heights)",
        "not_measured": dict(spine.not_measured),
        "contrast_phase": phase,
        "lumbar_findings": {"height_difference_above_0.2": high, "low_attenuation": low,
                            "hu_threshold": threshold,
                            "found_fracture": bool(high or low)},
    }


def metadata(nodeinfo: str | os.PathLike | None = None) -> dict[str, Any]:
    """The official metadata block: the node-info JSON when given (else the official defaults), the age
    as an integer (from ``PatientAge`` ``"NNNY"``, else from the birth and study dates, else 120),
    and the report version.

    Examples:
        >>> metadata()["PatientAge"], metadata()["version"]
        (99, '0.1.0')
    """
    if nodeinfo is not None and Path(nodeinfo).exists():
        try:
            meta = json.loads(Path(nodeinfo).read_text())
        except ValueError as exc:
            raise InputError(f"{nodeinfo}: not a JSON file ({exc}); pass the study's node-info JSON") from None
        if not isinstance(meta, dict):
            raise InputError(f"{nodeinfo}: expected a JSON object of DICOM fields, got {type(meta).__name__}")
    else:
        meta = dict(DEFAULT_METADATA)
    if meta.get("PatientAge") in ("", "Unknown", None):
        meta["PatientAge"] = _age_from_dates(meta.get("PatientBirthDate"), meta.get("StudyDate"))
    else:
        meta["PatientAge"] = int(str(meta["PatientAge"]).replace("Y", ""))
    meta["version"] = OFFICIAL_VERSION
    return meta


def _age_from_dates(birth: Any, study: Any) -> int:
    try:
        born = datetime.strptime(birth, "%Y%m%d")
        seen = datetime.strptime(study, "%Y%m%d")
    except (TypeError, ValueError):
        return 120
    return int((seen - born).days / 365.25)
