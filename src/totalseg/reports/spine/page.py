"""The spine report's HTML page (one self-contained file, :mod:`totalseg.reports.page`).

Examples:
    >>> from totalseg.reports.spine.vertebrae import SpineMeasurement
    >>> html = spine_page({"LWS_max": None}, {"genant": {}, "not_measured": {"vertebrae_L5": "not measurable, "
    ...                   "because it touches the image border"}, "contrast_phase": "native",
    ...                   "lumbar_findings": {"height_difference_above_0.2": [], "low_attenuation": [],
    ...                   "hu_threshold": 90.25, "found_fracture": False}}, {"PatientSex": "M", "PatientAge": 99},
    ...                   None)
    >>> "L5: not measurable, because it touches the image border" in html
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from totalseg.reports.page import Section, html_page
from totalseg.reports.spine.heights import POSITIONS
from totalseg.reports.spine.results import ADDITIONS_KEY


def findings_lines(results: Mapping[str, Any], extra: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
    """The summary sentences of the official front page (lumbar spine), plus phase and patient.

    Examples:
        >>> extra = {"contrast_phase": "portal_venous", "lumbar_findings": {"found_fracture": True,
        ...          "height_difference_above_0.2": ["L2"], "low_attenuation": [], "hu_threshold": 105.0}}
        >>> findings_lines({"vertebrae_L2_height_difference": 0.3}, extra, {"PatientSex": "F", "PatientAge": 70})
        ['Lumbar spine compression fracture in: L2', 'Contrast phase: portal venous; sex F, age 70']
    """
    found = extra["lumbar_findings"]
    measured = any(k.startswith("vertebrae_") for k in results)
    if not measured:
        lines = ["No vertebrae measurements available. Please check the segmentation output."]
    elif not found["found_fracture"]:
        lines = ["Lumbar spine contains no fracture."]
    else:
        lines = []
        if found["height_difference_above_0.2"]:
            lines.append("Lumbar spine compression fracture in: " + ", ".join(found["height_difference_above_0.2"]))
        if found["low_attenuation"]:
            lines.append(f"Lumbar spine low attenuation (median < {found['hu_threshold']:g} HU) in: "
                         + ", ".join(found["low_attenuation"]))
    lines.append(f"Contrast phase: {extra['contrast_phase'].replace('_', ' ')}; "
                 f"sex {meta.get('PatientSex', '?')}, age {meta.get('PatientAge', '?')}")
    return lines


def spine_page(results: Mapping[str, Any], extra: Mapping[str, Any], meta: Mapping[str, Any],
               view_png: bytes | None, vertebra_pngs: Sequence[tuple[str, bytes]] = ()) -> str:
    """The HTML page: findings, a table of the measured vertebrae, the not measured ones, the combined
    sagittal image and one key slice per vertebra (``(caption, png)`` pairs)."""
    rows = []
    for name in dict.fromkeys(k.rsplit("_height_", 1)[0] for k in results if "_height_" in k):
        grade = extra["genant"].get(name, {})
        rows.append((name.replace("vertebrae_", ""),
                     *(results[f"{name}_height_{pos}_mm"] for pos, _ in POSITIONS),
                     f"{results[f'{name}_height_difference']:.2f}",
                     "-" if grade.get("grade") is None else f"{grade['grade']} ({grade['grade_name']})",
                     results[f"{name}_volume_ml"], results[f"{name}_intensity"], results[f"{name}_intensity_median"]))
    notes = [f"{name.replace('vertebrae_', '')}: {why}" for name, why in extra["not_measured"].items()]
    sections = [
        Section("Findings", notes=findings_lines(results, extra, meta)),
        Section("Vertebrae", rows=rows, header=("vertebra", "posterior mm", "middle mm", "anterior mm",
                                                "height difference", "Genant grade", "volume ml", "mean HU",
                                                "median HU"),
                notes=[f"LWS_max (largest lumbar height difference): {results.get('LWS_max')}"]),
        Section("Not measured", notes=notes or ["Every vertebra in the segmentation was measured."]),
    ]
    if view_png is not None:
        sections.append(Section("Sagittal view", images=[("Each vertebra on its measured sagittal slice; "
                                                          "heights anterior - middle - posterior (mm)", view_png)]))
    if vertebra_pngs:
        sections.append(Section("Key slices", images=list(vertebra_pngs)))
    return html_page("Spine report", sections,
                     footer=f"Heights, volumes and HU as the official totalseg_spine_report; Genant grades and "
                            f"not-measured reasons are our additions (JSON key '{ADDITIONS_KEY}'). "
                            "Genant HK et al., J Bone Miner Res 1993;8:1137-48. For research; not a medical device.")
