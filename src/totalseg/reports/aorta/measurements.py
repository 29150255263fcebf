"""The report's numbers: each landmark's cross-section and each section's length, diameter and volumes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from totalseg.reports.aorta import centerline as cl
from totalseg.reports.aorta.cuts import section_between, widest_diameter_mm
from totalseg.reports.aorta.definitions import LANDMARKS, SECTION_EMPTY_KEYS, SECTIONS
from totalseg.reports.aorta.inputs import ReportData
from totalseg.reports.aorta.landmarks import Placement
from totalseg.reports.aorta.oblique import FlatSection, flatten, measure
from totalseg.reports.chords import major_diameter_mm
from totalseg.reports.sections import mask_normal, plane_cut


def landmark_cuts(marks: dict[int, Placement], path: np.ndarray, data: ReportData, *,
                  erosion: bool = False) -> tuple[dict[int, np.ndarray], float]:
    """Each placed landmark's perpendicular cut (the annulus: its own plane) and the largest cut diameter (mm).

    ``erosion`` (the official ``--erosion``): cut the aorta eroded once, and erode the annulus cut once.

    Examples:
        >>> cuts, largest_mm = landmark_cuts(marks, path, data)  # doctest: +SKIP
        >>> sorted(cuts), round(largest_mm, 1)  # doctest: +SKIP
        ([9, 11], 21.0)
    """
    cuts, largest = {}, 0.0
    aorta = ndimage.binary_erosion(data.aorta, iterations=1) if erosion else data.aorta
    for number, mark in marks.items():
        if mark.index is None:
            continue
        point = path[mark.index]
        if number == 1:
            annulus = data.annulus.astype(np.uint8)
            cut = plane_cut(annulus, point, mask_normal(annulus)).astype(np.uint8)
            if erosion:
                cut = ndimage.binary_erosion(cut, iterations=1)
        else:
            cut = plane_cut(aorta, point, cl.normal_at(path, mark.index))
        cuts[number] = cut.astype(np.uint8)
        largest = max(largest, major_diameter_mm(cuts[number], np.asarray(data.spacing)) or 0.0)
    return cuts, largest


def landmark_numbers(marks: dict[int, Placement], cuts: dict[int, np.ndarray], largest_mm: float,
                     data: ReportData) -> tuple[dict[str, dict], dict[int, FlatSection]]:
    """The JSON ``landmarks`` block (keys "1".."11") and each measured landmark's flat slice.

    Examples:
        >>> landmarks, flats = landmark_numbers(marks, cuts, largest_mm, data)  # doctest: +SKIP
        >>> landmarks["9"]["diameter"], landmarks["1"]["diameter"]  # doctest: +SKIP
        (2.2, None)
    """
    out, flats = {}, {}
    for number, landmark in LANDMARKS.items():
        if number not in cuts:
            out[str(number)] = {"name": landmark.name} | dict.fromkeys(
                ("area", "area_fl", "area_tl", "diameter", "diameter_fl", "diameter_tl", "diameter_pd",
                 "diameter_fl_pd", "diameter_tl_pd", "start", "end", "start_pd", "end_pd"))
            continue
        flats[number] = flatten(cuts[number], data.reference.affine, data.spacing, false_lumen=data.false_lumen,
                                true_lumen=data.true_lumen, ct=data.ct, size_mm=largest_mm * 1.4)
        out[str(number)] = {"name": landmark.name} | measure(flats[number])
    return out, flats


def section_numbers(marks: dict[int, Placement], path: np.ndarray, largest_mm: float, data: ReportData) -> dict:
    """The JSON ``section_stats`` block: per section length (cm), maximal diameter (cm), volumes (ml).

    Examples:
        >>> section_numbers(marks, path, largest_mm, data)["aorta_abdominal"]["length"]  # doctest: +SKIP
        2.6
    """
    out = {}
    affine, zooms = data.reference.affine, data.spacing
    voxel_ml = np.prod(zooms)
    for name, (first, last) in SECTIONS.items():
        start, end = marks[first].index, marks[last].index
        if start is None or end is None:
            out[name] = dict.fromkeys(SECTION_EMPTY_KEYS)
            continue
        stretch = path[end:start]
        diameter = widest_diameter_mm(data.aorta_sections, affine, zooms, stretch, largest_mm * 1.4)
        if name == "aorta_total":
            section = data.aorta_total
        else:
            section = section_between(data.aorta_sections, affine, zooms, path, start, max(0, end - 2),
                                      largest_mm * 1.4)
        out[name] = {
            "length": float((cl.length_mm(stretch, np.asarray(zooms)) / 10).round(1)),
            "max_diameter": round(diameter / 10, 1),
            "volume": float((section.sum() * voxel_ml / 1000).round(1)),
            "volume_true_lumen": float(((section * data.true_lumen).sum() * voxel_ml / 1000).round(1)),
            "volume_false_lumen": float(((section * data.false_lumen).sum() * voxel_ml / 1000).round(1)),
        }
    return out
