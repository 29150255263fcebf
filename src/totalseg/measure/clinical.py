"""Opportunistic screening measurements with published thresholds: ``clinical.json``.

Each measurement is a JSON-ready dict with ``status`` (``measured`` or ``not measurable``), the
``value`` and ``unit``, the ``thresholds`` it is read against, a ``flag``, a plain-language
``finding``, the ``source`` of the thresholds and the ``method``. A structure that is missing or
cut off by the field of view gives ``not measurable`` with the ``reason``, never a number from a
partial organ. Thresholds and sources are listed in docs/measure.md.

These are screening aids computed from an automatic segmentation, not diagnoses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.volume import Volume
from totalseg.measure.aorta import max_perpendicular_diameter
from totalseg.measure.files import write_json
from totalseg.measure.statistics import touches_border, voxel_volume_mm3

L1_CORE_EROSION_MM = 5.0
SOFT_TISSUE_EROSION_MM = 5.0
VESSEL_EROSION_MM = 2.0
UNENHANCED_BLOOD_MAX_HU = 90.0  # unenhanced blood is about 30-60 HU
ARTERIAL_PV_TO_AORTA_RATIO = 0.6
AORTA_MIN_LENGTH_MM = 10.0
THORACIC = tuple(f"vertebrae_T{i}" for i in range(1, 12))
LUMBAR = tuple(f"vertebrae_L{i}" for i in range(1, 6)) + ("vertebrae_S1", "sacrum")

SOURCES = {
    "l1": "Pickhardt PJ et al. Ann Intern Med 2013;158(8):588-595",
    "liver_hu": "Pickhardt PJ et al. Eur Radiol 2012;22(5):1075-1082 (unenhanced CT, liver <= 40 HU)",
    "liver_spleen": "Kodama Y et al. AJR 2007; Park SH et al. Radiology 2006 (liver-spleen attenuation difference)",
    "liver_volume": "normal adult liver 1281 +/- 219 mL (CT volumetry; range = mean +/- 2 SD); cf. Kromrey ML et al. "
                    "Eur J Radiol 2018;106:32-37 (MRI, healthy 1360 +/- 273 mL)",
    "spleen_volume": "Prassopoulos P et al. Eur Radiol 1997;7(2):246-248 (CT, normal 107.2-314.5 mL)",
    "kidney_volume": "Cheong B et al. Clin J Am Soc Nephrol 2007;2(1):38-45 (MRI, per kidney 202 +/- 36 mL men, "
                     "154 +/- 33 mL women; range = women's mean - 2 SD to men's mean + 2 SD)",
    "aorta": "Chaikof EL et al. J Vasc Surg 2018;67(1):2-77 (SVS guidelines: AAA >= 30 mm)",
    "phase": "heuristic (unenhanced blood about 30-60 HU); no single published cut-off",
}
DISCLAIMER = ("Screening aid computed from an automatic segmentation; not a diagnosis. "
              "Confirm findings on the images and with the appropriate clinical test.")


def clinical_measurements(image: Volume, labels: Volume, classes: Mapping[int, str], *,
                          modality: str = "ct") -> dict[str, Any]:
    """Clinical measurements from a CT (or MR: volumes and aorta only) and its labels.

    Args:
        image: the CT in HU (or MR) the labels were predicted on.
        labels: label ids on the grid of ``image``.
        classes: label id -> structure name (the ``total`` or ``total_mr`` class map).
        modality: ``ct`` or ``mr``; attenuation measurements need CT.

    Returns:
        ``{"contrast_phase": {...}, "measurements": {name: {...}}, "disclaimer": str}``.

    Examples:
        >>> import numpy as np
        >>> from totalseg.imaging.volume import LabelVolume
        >>> img = Volume(np.full((30, 30, 30), 60, np.int16), affine=np.diag([10.0, 10.0, 10.0, 1.0]))
        >>> lab = np.zeros((30, 30, 30), np.uint8); lab[5:25, 5:25, 5:25] = 1
        >>> out = clinical_measurements(img, LabelVolume(lab, affine=img.affine), {1: "liver"})
        >>> out["measurements"]["liver_volume"]["value"], out["measurements"]["liver_volume"]["flag"]
        (8000.0, 'high')
    """
    ctx = _Context.build(image, labels, classes)
    is_ct = modality == "ct"
    phase = _contrast_phase(ctx) if is_ct else {"phase": "not applicable", "reason": "MR image"}
    measurements = {
        "l1_trabecular_attenuation": _l1_attenuation(ctx, phase) if is_ct else _needs_ct("L1 attenuation"),
        **_liver_attenuation(ctx, phase, is_ct),
        "liver_volume": _organ_volume(ctx, "liver", "liver_volume", (843.0, 1719.0),
                                      ("small liver", "enlarged liver (hepatomegaly)")),
        "spleen_volume": _organ_volume(ctx, "spleen", "spleen_volume", (107.2, 314.5),
                                       ("small spleen", "enlarged spleen (splenomegaly)")),
        "kidney_right_volume": _organ_volume(ctx, "kidney_right", "kidney_volume", (88.0, 274.0),
                                             ("small right kidney", "large right kidney")),
        "kidney_left_volume": _organ_volume(ctx, "kidney_left", "kidney_volume", (88.0, 274.0),
                                            ("small left kidney", "large left kidney")),
        "abdominal_aorta_max_diameter": _aorta_diameter(ctx),
    }
    return {"contrast_phase": phase, "measurements": measurements, "disclaimer": DISCLAIMER}


def write_clinical(result: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``clinical.json`` (indented, atomically)."""
    return write_json(result, path, indent=2)


class _Context:
    """The image and label arrays in canonical (RAS) order, with per-structure bounding boxes."""

    def __init__(self, image: Volume, labels: np.ndarray, ids: dict[str, int], spacing, voxel_mm3: float):
        self.image, self.labels, self.ids = image, labels, ids
        self.spacing, self.voxel_mm3 = spacing, voxel_mm3
        self.boxes = ndimage.find_objects(labels, max_label=max(ids.values(), default=0)) if ids else []

    @classmethod
    def build(cls, image: Volume, labels: Volume, classes: Mapping[int, str]) -> _Context:
        canonical, _ = to_canonical(image)
        canonical_labels, _ = to_canonical(labels.with_data(np.asarray(labels.array), affine=image.affine))
        return cls(canonical, np.asarray(canonical_labels.array), {n: i for i, n in classes.items() if i > 0},
                   np.asarray(canonical.spacing_mm), float(voxel_volume_mm3(image)))

    def box(self, name: str) -> tuple[slice, ...] | None:
        i = self.ids.get(name)
        return self.boxes[i - 1] if i is not None and i <= len(self.boxes) else None

    def mask(self, name: str) -> tuple[np.ndarray, tuple[slice, ...]] | None:
        """The structure's mask inside its bounding box, or None when absent."""
        box = self.box(name)
        return None if box is None else (self.labels[box] == self.ids[name], box)

    def cut_off(self, name: str) -> bool:
        box = self.box(name)
        return box is not None and touches_border(box, self.labels.shape)

    def core_values(self, name: str, erosion_mm: float) -> np.ndarray | None:
        """Image values of the structure's voxels more than ``erosion_mm`` from its surface."""
        found = self.mask(name)
        if found is None:
            return None
        mask, box = found
        core = _erode(mask, self.spacing, erosion_mm)
        return np.asarray(self.image.array[box], dtype=np.float64)[core]


def _erode(mask: np.ndarray, spacing: np.ndarray, mm: float) -> np.ndarray:
    padded = np.pad(mask, 1)
    dist = ndimage.distance_transform_edt(padded, sampling=spacing)[1:-1, 1:-1, 1:-1]
    return dist > mm


def _not_measurable(reason: str, unit: str, source: str) -> dict[str, Any]:
    return {"status": "not measurable", "value": None, "unit": unit, "reason": reason,
            "finding": f"Not measurable: {reason}.", "source": SOURCES[source]}


def _needs_ct(what: str) -> dict[str, Any]:
    return {"status": "not measurable", "value": None, "unit": "HU", "reason": f"{what} needs a CT (HU) image",
            "finding": f"Not measurable: {what} needs a CT image."}


def _missing_or_cut(ctx: _Context, name: str) -> str | None:
    if name not in ctx.ids:
        return f"{name} was not segmented (not a class of this task or of the --roi_subset)"
    if ctx.box(name) is None:
        return f"{name} not found in the image"
    if ctx.cut_off(name):
        return f"{name} reaches the edge of the field of view (possibly cut off)"
    return None


def _measured(value: float, unit: str, flag: str, finding: str, source: str, method: str, **extra) -> dict[str, Any]:
    return {"status": "measured", "value": round(float(value), 1), "unit": unit, **extra, "flag": flag,
            "finding": finding, "source": SOURCES[source], "method": method}


def _contrast_phase(ctx: _Context) -> dict[str, Any]:
    aorta = ctx.core_values("aorta", VESSEL_EROSION_MM)
    portal = ctx.core_values("portal_vein_and_splenic_vein", 0.0)
    aorta_hu = float(np.median(aorta)) if aorta is not None and aorta.size >= 10 else None
    portal_hu = float(np.median(portal)) if portal is not None and portal.size >= 10 else None
    if aorta_hu is None:
        phase = "unknown"
    elif aorta_hu < UNENHANCED_BLOOD_MAX_HU and (portal_hu is None or portal_hu < UNENHANCED_BLOOD_MAX_HU):
        phase = "non-contrast"
    elif portal_hu is None:
        phase = "contrast-enhanced (phase unknown)"
    elif portal_hu < ARTERIAL_PV_TO_AORTA_RATIO * aorta_hu:
        phase = "arterial"
    else:
        phase = "portal venous or later"
    return {
        "phase": phase,
        "aorta_median_hu": None if aorta_hu is None else round(aorta_hu, 1),
        "portal_vein_median_hu": None if portal_hu is None else round(portal_hu, 1),
        "method": f"non-contrast when aorta and portal vein medians are < {UNENHANCED_BLOOD_MAX_HU:g} HU; arterial "
                  f"when portal vein < {ARTERIAL_PV_TO_AORTA_RATIO:g} x aorta; otherwise portal venous or later",
        "source": SOURCES["phase"],
    }


def _l1_attenuation(ctx: _Context, phase: Mapping[str, Any]) -> dict[str, Any]:
    reason = _missing_or_cut(ctx, "vertebrae_L1")
    if reason:
        return _not_measurable(reason, "HU", "l1")
    core = _vertebral_body_core(ctx)
    min_voxels = max(10, int(np.ceil(1000.0 / ctx.voxel_mm3)))  # 1 mL
    if core is None or core[0].sum() < min_voxels:
        return _not_measurable("the vertebral body core is under 1 mL (image too coarse or L1 incomplete)", "HU", "l1")
    mask, box = core
    value = float(np.asarray(ctx.image.array[box], dtype=np.float64)[mask].mean())
    if value <= 110:
        flag, finding = "osteoporosis likely", "L1 attenuation <= 110 HU: osteoporosis likely (> 90 % specific)."
    elif value <= 160:
        flag, finding = "low bone density", ("L1 attenuation 111-160 HU: low bone density possible "
                                             "(<= 160 HU is 90 % sensitive for osteoporosis); consider DXA.")
    else:
        flag, finding = "normal", "L1 attenuation > 160 HU: osteoporosis unlikely."
    if phase.get("phase") not in ("non-contrast", "unknown"):
        finding += " Contrast-enhanced scan: trabecular values read somewhat higher (about +20 HU arterial)."
    return _measured(value, "HU", flag, finding, "l1", "mean HU of the L1 vertebral body core: middle half of its "
                     f"height, anterior 40 %, voxels > {L1_CORE_EROSION_MM:g} mm inside the mask",
                     thresholds={"osteoporosis_likely_max_hu": 110, "low_density_max_hu": 160},
                     core_volume_ml=round(float(mask.sum()) * ctx.voxel_mm3 / 1000.0, 2))


def _vertebral_body_core(ctx: _Context) -> tuple[np.ndarray, tuple[slice, ...]] | None:
    """The trabecular core of L1's body: eroded, middle half of the height, anterior part, largest blob."""
    mask, box = ctx.mask("vertebrae_L1")
    core = _erode(mask, ctx.spacing, L1_CORE_EROSION_MM)
    z = np.flatnonzero(mask.any(axis=(0, 1)))
    height = z[-1] - z[0] + 1
    core[:, :, : z[0] + height // 4] = False
    core[:, :, z[-1] + 1 - height // 4:] = False
    y = np.flatnonzero(mask.any(axis=(0, 2)))  # RAS: higher y is anterior
    core[:, : y[-1] + 1 - int(np.ceil(0.4 * (y[-1] - y[0] + 1))), :] = False
    blobs, n = ndimage.label(core)
    if n == 0:
        return None
    sizes = ndimage.sum_labels(core, blobs, index=np.arange(1, n + 1))
    return blobs == 1 + int(np.argmax(sizes)), box


def _liver_attenuation(ctx: _Context, phase: Mapping[str, Any], is_ct: bool) -> dict[str, dict[str, Any]]:
    if not is_ct:
        return {"liver_attenuation": _needs_ct("liver attenuation"),
                "liver_minus_spleen_attenuation": _needs_ct("liver minus spleen attenuation")}
    valid = phase.get("phase") == "non-contrast"
    if phase.get("phase") == "unknown":
        note = " Validity unknown: the contrast phase could not be estimated (no aorta in view)."
    elif not valid:
        note = f" Not valid for steatosis: the scan is {phase.get('phase')}; the thresholds hold for unenhanced CT."
    else:
        note = ""
    liver = ctx.core_values("liver", SOFT_TISSUE_EROSION_MM)
    spleen = ctx.core_values("spleen", SOFT_TISSUE_EROSION_MM)
    min_voxels = max(10, int(np.ceil(5000.0 / ctx.voxel_mm3)))  # 5 mL
    out = {}
    if liver is None or liver.size < min_voxels:
        out["liver_attenuation"] = _not_measurable("liver not found or under 5 mL after erosion", "HU", "liver_hu")
    else:
        hu = float(np.median(liver))
        flag = "steatosis likely" if hu <= 40 else "normal"
        text = ("Liver attenuation <= 40 HU: moderate to severe steatosis likely." if hu <= 40
                else "Liver attenuation > 40 HU: no moderate to severe steatosis.")
        out["liver_attenuation"] = _measured(hu, "HU", flag, text + note, "liver_hu", "median HU of liver voxels "
                                             f"> {SOFT_TISSUE_EROSION_MM:g} mm inside the mask",
                                             thresholds={"steatosis_max_hu": 40}, valid=valid)
    if liver is None or spleen is None or liver.size < min_voxels or spleen.size < min_voxels:
        out["liver_minus_spleen_attenuation"] = _not_measurable("liver or spleen not found or under 5 mL after "
                                                                "erosion", "HU", "liver_spleen")
    else:
        diff = float(np.median(liver) - np.median(spleen))
        flag = "steatosis likely" if diff < 1 else "normal"
        text = ("Liver darker than spleen (difference < 1 HU): steatosis likely." if diff < 1
                else "Liver at least as dense as spleen: no steatosis by this criterion.")
        out["liver_minus_spleen_attenuation"] = _measured(
            diff, "HU", flag, text + note, "liver_spleen", "median HU of eroded liver minus that of eroded spleen",
            thresholds={"steatosis_below_hu": 1}, valid=valid)
    return out


def _organ_volume(ctx: _Context, name: str, source: str, normal_ml: tuple[float | None, float],
                  words: tuple[str, str]) -> dict[str, Any]:
    reason = _missing_or_cut(ctx, name)
    if reason:
        return _not_measurable(reason, "mL", source)
    mask, _ = ctx.mask(name)
    ml = float(np.int64(mask.sum()) * np.float64(ctx.voxel_mm3)) / 1000.0
    low, high = normal_ml
    span = f"{low:g}-{high:g} mL" if low is not None else f"<= {high:g} mL"
    if low is not None and ml < low:
        flag, finding = "low", f"{words[0].capitalize()}: {ml:.0f} mL, below the reference {span}."
    elif ml > high:
        flag, finding = "high", f"{words[1].capitalize()}: {ml:.0f} mL, above the reference {span}."
    else:
        flag, finding = "normal", f"{name.replace('_', ' ').capitalize()} volume {ml:.0f} mL, within {span}."
    return _measured(ml, "mL", flag, finding, source, "voxel count x voxel volume",
                     thresholds={"reference_low_ml": low, "reference_high_ml": high})


def _abdominal_slices(ctx: _Context) -> tuple[range, bool, str] | str:
    """Axial slices of the abdominal aorta, whether their upper limit is in view, and that limit's name.

    The limit is the aortic hiatus (top of T12); without vertebra levels (the MR task has one
    ``vertebrae`` class) the upper pole of the higher kidney, which keeps the infrarenal aorta
    where most aneurysms lie but misses the few centimetres between T12 and the renal arteries.
    """
    depth = ctx.labels.shape[2]
    t12 = ctx.box("vertebrae_T12")
    if t12 is not None:
        return range(0, t12[2].stop), t12[2].stop < depth - 3, "top of T12"
    if any(ctx.box(n) is not None for n in LUMBAR) and all(ctx.box(n) is None for n in THORACIC):
        return range(0, depth), False, "top of T12"
    if any(n in ctx.ids for n in ("vertebrae_T12", *LUMBAR)):
        return "the abdominal aorta (below T12) is not in the image"
    kidneys = [box for box in (ctx.box("kidney_left"), ctx.box("kidney_right")) if box is not None]
    if not kidneys:
        return "no vertebra levels and no kidney in the image to locate the abdominal aorta"
    top = max(box[2].stop for box in kidneys)
    return range(0, top), top < depth - 3, "upper pole of the higher kidney"


def _aorta_diameter(ctx: _Context) -> dict[str, Any]:
    found = ctx.mask("aorta")
    if found is None:
        return _not_measurable(_missing_or_cut(ctx, "aorta"), "mm", "aorta")
    region = _abdominal_slices(ctx)
    if isinstance(region, str):
        return _not_measurable(region, "mm", "aorta")
    slices, top_in_view, upper_limit = region
    box = found[1]
    if any(s.start < 1 or s.stop > n - 1 for s, n in zip(box[:2], ctx.labels.shape[:2])):
        return _not_measurable("the aorta touches the side of the field of view", "mm", "aorta")
    aorta = ctx.labels == ctx.ids["aorta"]
    covered = [z for z in slices if aorta[:, :, z].any()]
    if len(covered) * ctx.spacing[2] < AORTA_MIN_LENGTH_MM:
        return _not_measurable(f"under {AORTA_MIN_LENGTH_MM:g} mm of abdominal aorta in view", "mm", "aorta")
    result = max_perpendicular_diameter(aorta, tuple(ctx.spacing), slices)
    if result is None:
        return _not_measurable("too few slices of abdominal aorta", "mm", "aorta")
    ends_in_view = box[2].start >= 3
    coverage = "complete" if top_in_view and ends_in_view else "partial"
    d = result.max_mm
    if d >= 55:
        flag, finding = "aneurysm", f"Abdominal aortic aneurysm, {d:.0f} mm (>= 55 mm: repair threshold range)."
    elif d >= 30:
        flag, finding = "aneurysm", f"Abdominal aortic aneurysm, {d:.0f} mm (>= 30 mm)."
    else:
        flag, finding = "normal", f"Abdominal aorta maximum diameter {d:.0f} mm (< 30 mm)."
    if coverage == "partial":
        finding += " Only part of the abdominal aorta is in view; the maximum may lie outside it."
    return _measured(d, "mm", flag, finding, "aorta", "maximum diameter of cross-sections perpendicular to the "
                     f"centerline below the {upper_limit} (3-slice running median)",
                     thresholds={"aneurysm_min_mm": 30, "repair_consideration_mm": 55},
                     equivalent_diameter_mm=round(result.equivalent_mm, 1), coverage=coverage,
                     level_z_mm=round(float((ctx.image.affine @ [0, 0, result.slice_index, 1])[2]), 1),
                     sections_measured=result.n_sections)
