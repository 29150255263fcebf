"""The published rules a body-composition measurement at L3 follows, as data.

HU windows: skeletal muscle -29..150 HU and adipose tissue -190..-30 HU (Mitsiopoulos et al.,
J Appl Physiol 1998;85:115-22), the windows of the Alberta protocol (Mourtzakis et al., Appl Physiol
Nutr Metab 2008;33:997-1006) for muscle and subcutaneous fat. (Alberta's SliceOmatic protocol uses
-150..-50 HU for visceral fat; we use one fat window for every compartment, as Mitsiopoulos.)

Sarcopenia cut-offs of the skeletal muscle index (SMI, L3 muscle area / height^2):
Prado et al., Lancet Oncol 2008;9:629-35 (52.4 cm2/m2 men, 38.5 women) and Martin et al.,
J Clin Oncol 2013;31:1539-47 (men 43 if BMI < 25, 53 if BMI >= 25; women 41), which also gives
muscle attenuation cut-offs (41 HU if BMI < 25, 33 HU if BMI >= 25).
"""

from __future__ import annotations

from dataclasses import dataclass

from totalseg.anatomy.class_maps import class_map

MUSCLE_HU = (-29.0, 150.0)
FAT_HU = (-190.0, -30.0)
MITSIOPOULOS = "Mitsiopoulos et al., J Appl Physiol 1998;85:115-22"
ALBERTA = "Mourtzakis et al. (Alberta protocol), Appl Physiol Nutr Metab 2008;33:997-1006"
PRADO = "Prado et al., Lancet Oncol 2008;9:629-35"
MARTIN = "Martin et al., J Clin Oncol 2013;31:1539-47"

VERTEBRA = "vertebrae_L3"
CAVITY = "abdominal_cavity"
BODY = "body_trunc"


def muscle_classes() -> tuple[str, ...]:
    """Every skeletal muscle of the open ``abdominal_muscles`` task (all muscle in the slice counts).

    Examples:
        >>> "psoas_major_left" in muscle_classes(), len(muscle_classes())
        (True, 22)
    """
    return tuple(class_map("abdominal_muscles").values())


def needed_masks() -> dict[str, tuple[str, ...]]:
    """Open task -> the masks of it the measurement uses.

    Examples:
        >>> needed_masks()["trunk_cavities"]
        ('abdominal_cavity',)
    """
    return {"total": (VERTEBRA,), "abdominal_muscles": muscle_classes(), "trunk_cavities": (CAVITY,),
            "body": (BODY,)}


@dataclass(frozen=True)
class Cutoff:
    """Low skeletal muscle index (or muscle attenuation) below ``below``, for one sex and BMI range."""

    source: str
    measure: str  # "smi_cm2_m2" or "muscle_hu"
    sex: str | None  # None: either sex
    below: float
    bmi_range: tuple[float, float] | None = None  # [low, high) kg/m2; None: any BMI


CUTOFFS = (
    Cutoff(PRADO, "smi_cm2_m2", "male", 52.4),
    Cutoff(PRADO, "smi_cm2_m2", "female", 38.5),
    Cutoff(MARTIN, "smi_cm2_m2", "male", 43.0, (0.0, 25.0)),
    Cutoff(MARTIN, "smi_cm2_m2", "male", 53.0, (25.0, 1000.0)),
    Cutoff(MARTIN, "smi_cm2_m2", "female", 41.0),
    Cutoff(MARTIN, "muscle_hu", None, 41.0, (0.0, 25.0)),
    Cutoff(MARTIN, "muscle_hu", None, 33.0, (25.0, 1000.0)),
)


def classify(measure: str, value: float | None, *, sex: str | None, bmi: float | None) -> list[dict]:
    """Each published cut-off of ``measure`` applied: ``below`` True/False, or None with the reason.

    Examples:
        >>> [r["below_cutoff"] for r in classify("smi_cm2_m2", 40.0, sex="male", bmi=None)]
        [True, None]
        >>> classify("smi_cm2_m2", 40.0, sex="female", bmi=None)[1]["below_cutoff"]
        True
    """
    results = []
    for cut in CUTOFFS:
        if cut.measure != measure or (cut.sex is not None and sex is not None and cut.sex != sex):
            continue
        if cut.bmi_range is not None and bmi is not None and not cut.bmi_range[0] <= bmi < cut.bmi_range[1]:
            continue
        if cut.bmi_range is not None and bmi is None and any(
                r["source"] == cut.source and r["sex"] == cut.sex for r in results):
            continue  # one "needs BMI" row per source and sex
        row = {"source": cut.source, "sex": cut.sex, "threshold": cut.below,
               "bmi_range": list(cut.bmi_range) if cut.bmi_range else None}
        row["below_cutoff"], row["reason"] = _verdict(cut, value, sex, bmi)
        if row["reason"].startswith("needs the BMI"):
            row["threshold"] = row["bmi_range"] = None  # the BMI picks the threshold
        results.append(row)
    return results


def _verdict(cut: Cutoff, value: float | None, sex: str | None, bmi: float | None) -> tuple[bool | None, str]:
    if value is None:
        return None, "not measurable"
    if cut.sex is not None and sex is None:
        return None, "needs the sex (--sex)"
    if cut.bmi_range is not None and bmi is None:
        return None, "needs the BMI (--height-m and --weight-kg)"
    return bool(value < cut.below), ""
