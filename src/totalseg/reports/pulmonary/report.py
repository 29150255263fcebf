"""The pulmonary report's result: the official JSON (``landmarks``, ``metadata``) plus the reasons a
landmark was not measurable.

Examples:
    >>> r = report_json({}, {1: "the pul_annulus mask was not given"}, {})
    >>> r["landmarks"]["1"]["name"], r["landmarks"]["1"]["diameter"], r["not_measurable"]["1"][:7]
    ('proximal MPA', None, 'the pul')
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib

from totalseg.reports.nodeinfo import check_ct_shape, report_metadata
from totalseg.reports.pulmonary.landmarks import LANDMARKS, VERSION
from totalseg.reports.pulmonary.masks import ARTERY, MaskSet
from totalseg.reports.pulmonary.measure import build_grid, measure_landmarks

_EMPTY_METRICS = ("area", "diameter", "diameter_pd", "start", "end", "start_pd", "end_pd")


@dataclass(frozen=True)
class PulmonaryResult:
    """A finished report: ``json`` (the official keys and ``not_measurable``) and, per measured
    landmark, its rotated slice (``ct``, ``mask`` 2-D arrays and ``spacing``) for the page."""

    json: dict
    slices: dict[int, dict]


def measure_report(ct: nib.Nifti1Image, masks: MaskSet, *, metadata: dict | None = None) -> PulmonaryResult:
    """Measure every landmark the masks allow; the others get a reason."""
    check_ct_shape(ct.shape, "CT")
    reasons: dict[int, str] = {}
    if ARTERY not in masks.images:
        why = masks.missing_reason(ARTERY)
        return PulmonaryResult(report_json({}, {lm.index: why for lm in LANDMARKS}, {}, metadata), {})
    landmarks = {lm.index: masks.images[lm.name] for lm in LANDMARKS if lm.name in masks.images}
    for lm in LANDMARKS:
        if lm.name not in masks.images:
            reasons[lm.index] = masks.missing_reason(lm.name)
    grid = build_grid(ct, masks.images[ARTERY], landmarks)
    results, plane_reasons, slices, centres = measure_landmarks(grid)
    return PulmonaryResult(report_json(results, {**reasons, **plane_reasons}, centres, metadata), slices)


def report_json(results: dict[int, dict], reasons: dict[int, str], centres: dict[int, list[int]],
                metadata: dict | None = None) -> dict:
    """The official layout: ``landmarks`` (``"1"``..``"5"``: name, area cm^2, diameters cm, end points)
    and ``metadata``; landmarks not measured have ``None`` metrics and a reason in ``not_measurable``."""
    landmarks: dict[str, dict] = {}
    for lm in LANDMARKS:
        entry: dict[str, object] = {"name": lm.display_name}
        if lm.index in results:
            entry.update(results[lm.index])
        else:
            if lm.index in centres:
                entry["cl_point"] = centres[lm.index]
            entry.update(dict.fromkeys(_EMPTY_METRICS))
        landmarks[str(lm.index)] = entry
    return {"landmarks": landmarks, "metadata": dict(metadata or report_metadata(None, version=VERSION)),
            "not_measurable": {str(i): reasons[i] for i in sorted(reasons)}}
