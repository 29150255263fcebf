"""Anatomical reference tables the checks compare against, each with its source (docs/qc.md).

Sides are the patient's: in RAS world coordinates ``left`` is +x. Volumes are adult ranges in ml,
intensities mean HU of a whole structure mask on CT.
"""

from __future__ import annotations

VERTEBRAE = tuple(f"vertebrae_{v}" for v in (
    *(f"C{i}" for i in range(1, 8)), *(f"T{i}" for i in range(1, 13)), *(f"L{i}" for i in range(1, 6)), "S1"))
"""Head to feet; the sacrum follows S1."""

# Centroid-to-centroid distance of neighbouring vertebrae (body height + disc), mm: a broad band
# around the segment heights of Panjabi et al. (Spine 1991;16:861-869 cervical, 1991;16:888-901
# thoracic, 1992;17:299-306 lumbar) plus disc heights; half or twice a segment is outside it.
PITCH_MM = {"C": (8.0, 30.0), "T": (12.0, 45.0), "L": (18.0, 60.0), "S": (15.0, 60.0)}

# Rib k articulates with vertebra Tk; ribs 1, 10, 11 and 12 with Tk alone, ribs 2-9 also with
# T(k-1) (Gray's Anatomy, 42nd ed., costovertebral joints): the rib head sits at the disc between
# T(k-1) and Tk (about -0.5 levels), at Tk for the single-facet ribs (about 0); the median over the
# ribs is near -0.4, and a shift of the vertebra labels by one level moves it by 1.
RIB_LEVEL_WINDOW = (-1.0, 0.1)  # allowed median (rib head level - k), in vertebra levels

# One-sided organs: -1 the patient's right (-x), +1 the left (+x).
ONE_SIDED = {"liver": -1, "gallbladder": -1, "spleen": 1, "stomach": 1, "inferior_vena_cava": -1,
             "superior_vena_cava": -1, "lung_middle_lobe_right": -1}
PAIRED_SUFFIXES = ("_left", "_right")

# name: (low, high, source) of adult volume in ml; outside -> warn, outside half low / twice high -> fail.
VOLUME_ML = {
    "liver": (900.0, 2600.0, "Heinemann et al., Liver Transpl Surg 1999;5:366-368 (standard liver volume)"),
    "spleen": (100.0, 320.0, "Prassopoulos et al., Eur Radiol 1997;7:246-248 (CT splenic volume 107-314 ml)"),
    "kidney_left": (80.0, 320.0, "Cheong et al., Clin J Am Soc Nephrol 2007;2:38-45 (MRI renal volume)"),
    "kidney_right": (80.0, 320.0, "Cheong et al., Clin J Am Soc Nephrol 2007;2:38-45 (MRI renal volume)"),
    "lungs": (2500.0, 9000.0, "Quanjer et al., Eur Respir J 1993;6 Suppl 16:5-40 (total lung capacity)"),
}
# Organ volumes grow with body size: where height and weight are known, the ranges of these organs
# are scaled by the body surface area (Mosteller RD, N Engl J Med 1987;317:1098) relative to the
# standard adult's 1.73 m2 (the convention organ function is normalized to, e.g. GFR per 1.73 m2;
# Heinemann et al. 1999 give liver volume as 1072.8 x BSA - 345.7 ml, Cheong et al. 2007 relate renal
# volume to BSA). The lungs scale with height rather than BSA and keep their range.
BSA_SCALED = ("liver", "spleen", "kidney_left", "kidney_right")
STANDARD_BSA_M2 = 1.73
LUNG_LOBES = ("lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right",
              "lung_lower_lobe_right")
# numerator, denominator, low, high, source
RATIOS = (
    ("kidney_left", "kidney_right", 0.67, 1.5, "Cheong et al. 2007: left and right volumes within about 10-20 %"),
    ("liver", "spleen", 3.0, 20.0, "Heinemann et al. 1999 and Prassopoulos et al. 1997 ranges"),
)

# tissue: (low, high) of a plausible mean HU of a whole mask, and its source.
TISSUE_HU = {
    "bone": (60.0, 1500.0, "cortical and trabecular bone; Pickhardt et al., Ann Intern Med 2013;158:588-595"),
    "lung": (-1000.0, -400.0, "aerated lung parenchyma; Kalender, Computed Tomography, 3rd ed. 2011"),
    "air": (-1024.0, -300.0, "air-filled airway lumen; Kalender 2011"),
    "muscle": (-29.0, 150.0, "skeletal muscle -29..150 HU; Mitsiopoulos et al., J Appl Physiol 1998;85:115-122"),
    "blood": (20.0, 600.0, "blood 30-60 HU native, up to several hundred HU with contrast; Kalender 2011"),
    "soft": (0.0, 300.0, "parenchymal organs, native to enhanced; Kalender 2011"),
    "brain": (15.0, 60.0, "grey and white matter; Kalender 2011"),
}
_BONES = ("vertebrae_", "rib_", "sacrum", "hip_", "femur_", "humerus_", "scapula_", "clavicula_", "sternum", "skull")
_TISSUES = {
    "lung": LUNG_LOBES, "air": ("trachea",),
    "muscle": ("gluteus_", "iliopsoas_", "autochthon_"),
    "blood": ("aorta", "inferior_vena_cava", "superior_vena_cava", "heart", "portal_vein", "iliac_",
              "brachiocephalic", "subclavian", "common_carotid", "pulmonary_vein"),
    "soft": ("liver", "spleen", "kidney_left", "kidney_right", "pancreas", "thyroid", "prostate"),
    "brain": ("brain",),
}


def tissue_of(name: str) -> str | None:
    """The tissue class whose HU range applies to a structure, or None (mixed contents: bowel, cysts).

    Examples:
        >>> tissue_of("vertebrae_L1"), tissue_of("lung_lower_lobe_left"), tissue_of("colon")
        ('bone', 'lung', None)
    """
    if name.startswith(_BONES):
        return "bone"
    for tissue, prefixes in _TISSUES.items():
        if name.startswith(prefixes):
            return tissue
    return None


# Structures that lie at these vertebral levels in every adult (Gray's Anatomy, 42nd ed.): when the
# levels are covered whole, the structure must be in the segmentation.
EXPECTED_AT = {
    "liver": ("vertebrae_T12", "vertebrae_L1"), "spleen": ("vertebrae_T11", "vertebrae_T12"),
    "kidney_left": ("vertebrae_L1", "vertebrae_L2"), "kidney_right": ("vertebrae_L1", "vertebrae_L2"),
    "heart": ("vertebrae_T6", "vertebrae_T7", "vertebrae_T8"), "aorta": ("vertebrae_T8", "vertebrae_T9"),
    "trachea": ("vertebrae_T1", "vertebrae_T2", "vertebrae_T3"),
    "spinal_cord": ("vertebrae_T5", "vertebrae_T6"),
    **{lobe: ("vertebrae_T5", "vertebrae_T6", "vertebrae_T7") for lobe in LUNG_LOBES},
    **{f"rib_{side}_{k}": (f"vertebrae_T{k}",) for side in ("left", "right") for k in range(1, 13)},
    "hip_left": ("vertebrae_S1",), "hip_right": ("vertebrae_S1",),
    "autochthon_left": ("vertebrae_T8",), "autochthon_right": ("vertebrae_T8",),
    "iliopsoas_left": ("vertebrae_L4",), "iliopsoas_right": ("vertebrae_L4",),
}

# Structures that are often in several pieces in a correct segmentation.
NATURALLY_FRAGMENTED = ("colon", "small_bowel", "duodenum", "costal_cartilages", "kidney_cyst_left",
                        "kidney_cyst_right", "pulmonary_vein", "thyroid_gland")
