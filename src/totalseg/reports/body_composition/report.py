"""``body_composition.json`` and ``body_composition.html``: the L3 measurement from CT and masks."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.volume import Volume
from totalseg.io import read_volume
from totalseg.reports.body_composition import protocol as P
from totalseg.reports.body_composition.areas import Compartments, compartments, l3_mid_slice, pixel_area_mm2
from totalseg.reports.body_composition.masks import Masks, gather_masks

SEXES = ("male", "female")
AREAS = {"skeletal_muscle_area": "muscle", "visceral_fat_area": "visceral_fat",
         "subcutaneous_fat_area": "subcutaneous_fat", "intermuscular_fat_area": "intermuscular_fat"}


def body_composition(ct: str | os.PathLike, output: str | os.PathLike, *, seg_dirs: Sequence[str | os.PathLike] = (),
                     height_m: float | None = None, weight_kg: float | None = None, sex: str | None = None,
                     device: str = "cpu", quiet: bool = False, segment_kwargs: dict | None = None) -> dict[str, Any]:
    """Measure body composition on the L3 mid-slice and write the JSON and HTML report into ``output``.

    Args:
        ct: the CT image (any format ``totalseg segment`` reads).
        output: the report folder; masks that had to be segmented go to ``output/segmentations``.
        seg_dirs: folders holding existing masks (see :mod:`.masks`) on the CT's grid.
        height_m: body height in metres, for the skeletal muscle index.
        weight_kg: body weight, for the BMI-dependent cut-offs (Martin et al. 2013).
        sex: ``male`` or ``female``, for the sex-specific cut-offs.
        device: where missing masks are segmented (``cpu``, ``gpu``, ...).
        quiet: no progress output.
        segment_kwargs: more arguments for :func:`totalseg.api.segment` (``settings``, ``download``).

    Returns:
        The report dict written to ``body_composition.json``.

    Examples:
        >>> body_composition("ct.nii.gz", "report", height_m=1.75, sex="male")  # doctest: +SKIP
        {'report': 'body_composition', 'status': 'measured', ...}
    """
    _check_patient(height_m, weight_kg, sex)
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file; pass a folder for the report")
    image = read_volume(ct)
    masks = gather_masks(ct, image, [Path(d) for d in seg_dirs], folder / "segmentations", device=device,
                         quiet=quiet, segment_kwargs=segment_kwargs)
    result, png = measure_masks(image, masks, height_m=height_m, weight_kg=weight_kg, sex=sex)
    from totalseg.reports.body_composition.page import write_report

    write_report(result, png, folder)
    return result


def measure_masks(image: Volume, masks: Masks, *, height_m: float | None = None, weight_kg: float | None = None,
                  sex: str | None = None) -> tuple[dict[str, Any], bytes | None]:
    """The report dict and the slice PNG (None when not measurable) from the CT and its masks.

    ``masks``: class name -> bool array on the CT's grid, for ``vertebrae_L3``, ``abdominal_cavity``,
    ``body_trunc`` and the ``abdominal_muscles`` classes (a missing one counts as empty).
    """
    ras, _ = to_canonical(image)

    def canonical(name: str) -> np.ndarray:
        array = masks.get(name)
        return np.zeros(ras.shape, bool) if array is None else np.asarray(to_canonical(image.with_data(array))[0].array)

    choice = l3_mid_slice(canonical(P.VERTEBRA))
    result = _skeleton(height_m, weight_kg, sex)
    result["level"]["l3_slices"] = list(choice.extent) if choice.extent else None
    if choice.index is None:
        result.update(status="not measurable", reason=choice.reason)
        return result, None
    k = choice.index
    muscle = np.zeros(ras.shape[:2], bool)
    for name in P.muscle_classes():
        muscle |= canonical(name)[:, :, k]
    hu = np.asarray(ras.array[:, :, k], dtype=np.float64)
    body = canonical(P.BODY)[:, :, k]
    parts = compartments(hu, muscle, canonical(P.CAVITY)[:, :, k], body, canonical(P.VERTEBRA)[:, :, k],
                         pixel_mm2=pixel_area_mm2(ras.affine))
    result["level"].update(slice_index=k, z_mm=round(float((ras.affine @ [0, 0, k, 1])[2]), 2))
    result["measurements"] = _measurements(parts, hu, body, result["patient"])
    smi = result["measurements"]["skeletal_muscle_index"]["value"]
    attenuation = result["measurements"]["muscle_attenuation"]["value"]
    bmi = result["patient"]["bmi"]
    result["sarcopenia"] = P.classify("smi_cm2_m2", smi, sex=sex, bmi=bmi)
    result["myosteatosis"] = P.classify("muscle_hu", attenuation, sex=sex, bmi=bmi)
    from totalseg.reports.body_composition.figure import slice_png

    return result, slice_png(hu, parts, ras.spacing_mm[:2])


def _skeleton(height_m, weight_kg, sex) -> dict[str, Any]:
    bmi = round(weight_kg / height_m**2, 2) if height_m and weight_kg else None
    return {
        "report": "body_composition", "status": "measured", "reason": "",
        "level": {"vertebra": "L3", "slice": "axial slice halfway through L3 (RAS orientation)",
                  "l3_slices": None, "slice_index": None, "z_mm": None},
        "patient": {"height_m": height_m, "weight_kg": weight_kg, "sex": sex, "bmi": bmi},
        "hu_windows": {"muscle": list(P.MUSCLE_HU), "fat": list(P.FAT_HU), "sources": [P.MITSIOPOULOS, P.ALBERTA]},
        "masks": {"vertebra": f"total: {P.VERTEBRA}", "muscle": "abdominal_muscles: all 22 classes",
                  "visceral": f"trunk_cavities: {P.CAVITY}", "body": f"body: {P.BODY}"},
        "measurements": {}, "sarcopenia": [], "myosteatosis": [],
    }


def _measurements(parts: Compartments, hu: np.ndarray, body: np.ndarray, patient: Mapping) -> dict[str, Any]:
    out: dict[str, Any] = {}
    body_cut = bool(body[[0, -1], :].any() or body[:, [0, -1]].any())
    for key, name in AREAS.items():
        if key == "subcutaneous_fat_area" and (body_cut or not body.any()):
            why = "the body reaches the edge of the slice" if body_cut else "there is no body_trunc mask on it"
            out[key] = _entry(None, "cm2", f"not measurable, because {why}")
            continue
        out[key] = _entry(round(parts.area_cm2(name), 2), "cm2")
    sma = out["skeletal_muscle_area"]["value"]
    if patient["height_m"]:
        out["skeletal_muscle_index"] = _entry(round(sma / patient["height_m"] ** 2, 2), "cm2/m2")
    else:
        out["skeletal_muscle_index"] = _entry(None, "cm2/m2", "not measurable, because the height is not given "
                                                             "(--height-m)")
    if parts.muscle.any():
        out["muscle_attenuation"] = _entry(round(float(hu[parts.muscle].mean()), 1), "HU")
    else:
        out["muscle_attenuation"] = _entry(None, "HU", "not measurable, because no muscle is on the slice")
    return out


def _entry(value: float | None, unit: str, reason: str = "") -> dict[str, Any]:
    return {"value": value, "unit": unit, "status": "measured" if value is not None else "not measurable",
            "reason": reason}


def _check_patient(height_m: float | None, weight_kg: float | None, sex: str | None) -> None:
    if height_m is not None and not 0.3 <= height_m <= 2.8:
        raise InputError(f"height {height_m} m is outside 0.3-2.8 m; pass the height in metres (e.g. 1.75)")
    if weight_kg is not None and not 1 <= weight_kg <= 700:
        raise InputError(f"weight {weight_kg} kg is outside 1-700 kg; pass the weight in kilograms")
    if sex is not None and sex not in SEXES:
        raise InputError(f"sex must be one of {', '.join(SEXES)}, got {sex!r}")
