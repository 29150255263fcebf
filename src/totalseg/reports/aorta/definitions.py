"""What the aorta report measures: its anchor structures, 11 landmarks and 5 sections.

The tables of the official ``totalseg_aorta_report`` (TotalSegmentator 2.18.0, report version
0.1.2): which mask anchors each landmark, which landmarks bound each section, and which mask file of
which model holds each structure. A landmark is measurable only when every structure it depends on is.

Examples:
    >>> LANDMARKS[9].name, LANDMARKS[9].depends_on
    ('desc. aorta (T12)', ('T12',))
    >>> SECTIONS["aorta_arch"]
    (5, 7)
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_VERSION = "0.1.2"  # the official aorta report's VERSION, written into the metadata


@dataclass(frozen=True)
class Structure:
    """An anchor structure: its mask file's stem and the official model (task) that segments it."""

    mask: str
    task: str


@dataclass(frozen=True)
class Landmark:
    """A landmark on the centerline: its official name and the anchor structures it needs."""

    name: str
    depends_on: tuple[str, ...]


# anchor key -> mask (the official report's order matters: the sinotubular junction uses the brachio anchor)
STRUCTURES: dict[str, Structure] = {
    "brachio": Structure("brachiocephalic_trunk", "total"),
    "subclavian": Structure("subclavian_artery_left", "total"),
    "celiac": Structure("celiac_trunk", "renal_arteries"),
    "T12": Structure("vertebrae_T12", "total"),
    "sinotub_junc": Structure("sinotubular_junction", "aorta_annulus"),
    "iliac": Structure("iliac_artery_right", "total"),
}

ANNULUS = Structure("annulus_proper", "aorta_annulus")
AORTA = Structure("aorta", "total")
TRUE_LUMEN = Structure("aorta_true_lumen", "aortic_dissection")
FALSE_LUMEN = Structure("aorta_false_lumen", "aortic_dissection")

# the total-task classes the official report segments (its MODEL_RUNS roi_subset)
TOTAL_ROIS: tuple[str, ...] = ("aorta", "brachiocephalic_trunk", "subclavian_artery_left",
                               "common_carotid_artery_left", "iliac_artery_left", "iliac_artery_right",
                               "vertebrae_T12")

LANDMARKS: dict[int, Landmark] = {
    1: Landmark("annulus", ("annulus",)),
    2: Landmark("sinuses of valsalva", ("annulus", "sinotub_junc")),
    3: Landmark("sinotub. junc.", ("sinotub_junc",)),
    4: Landmark("mid asc. aorta", ("sinotub_junc", "brachio")),
    5: Landmark("distal asc. aorta", ("brachio",)),
    6: Landmark("mid aortic arch", ("brachio", "subclavian")),
    7: Landmark("proximal desc. aorta", ("subclavian",)),
    8: Landmark("mid desc. aorta", ("subclavian", "T12")),
    9: Landmark("desc. aorta (T12)", ("T12",)),
    10: Landmark("abd. aorta (celiac artery)", ("celiac",)),
    11: Landmark("abd. aorta (bifurcation)", ("iliac",)),
}

# section -> (landmark at its proximal end, landmark at its distal end)
SECTIONS: dict[str, tuple[int, int]] = {
    "aorta_ascending": (1, 5),
    "aorta_arch": (5, 7),
    "aorta_descending": (7, 9),
    "aorta_abdominal": (9, 11),
    "aorta_total": (1, 11),
}

# the per-landmark numbers of the JSON (None where the landmark is not measurable)
LANDMARK_EMPTY_KEYS: tuple[str, ...] = ("area", "area_fl", "area_tl", "diameter", "diameter_fl", "diameter_tl",
                                        "diameter_pd", "diameter_fl_pd", "diameter_tl_pd", "start", "end",
                                        "start_pd", "end_pd")
SECTION_EMPTY_KEYS: tuple[str, ...] = ("length", "max_diameter", "max_diameter_perpendicular", "volume",
                                       "volume_true_lumen", "volume_false_lumen")

# the official report's reference grid: masks are resampled to this voxel size (mm), around the aorta
GRID_MM = 0.8
CROP_MARGIN_MM = 20
MIN_STRUCTURE_MM3 = 200  # T12, sinotubular junction, iliac artery and annulus below this count as empty
