"""The aorta report from masks: centerline, landmarks, cross-sections, sections; the official JSON.

:func:`aorta_report` reproduces ``totalseg_aorta_report``'s ``create_aorta_report`` from the masks
its models write (its intermediate ``models/`` folder). Without the licensed ``aorta_annulus``,
``renal_arteries`` and ``aortic_dissection`` masks it still measures what the ``total`` masks
anchor (landmarks 5-9 and 11, the arch, descending and abdominal sections) and says why the others
are not measurable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from totalseg.errors import InputError
from totalseg.reports.aorta import centerline as cl
from totalseg.reports.aorta.definitions import AORTA, LANDMARKS, MIN_STRUCTURE_MM3, REPORT_VERSION, SECTIONS
from totalseg.reports.aorta.inputs import ReportData, load_report_data
from totalseg.reports.aorta.landmarks import Placement, anchor_structures, place_landmarks
from totalseg.reports.aorta.measurements import landmark_cuts, landmark_numbers, section_numbers
from totalseg.reports.aorta.oblique import FlatSection
from totalseg.reports.nodeinfo import report_metadata
from totalseg.reports.sections import find_center


@dataclass
class AortaReport:
    """The report: ``json`` (the official keys), why each unmeasured item is not measurable, pictures' data."""

    json: dict
    not_measurable: dict[str, str]
    flats: dict[int, FlatSection]
    marks: dict[int, int]
    path: np.ndarray
    data: ReportData


def aorta_report(masks: Mapping[str, nib.Nifti1Image], *, ct: nib.Nifti1Image | None = None,
                 phase: str | None = None, skip_dissection: bool = False, erosion: bool = False,
                 metadata: dict | None = None) -> AortaReport:
    """The aorta report from masks by name (``aorta``, ``annulus_proper``, ``brachiocephalic_trunk``, ...).

    Args:
        masks: NIfTI masks by class name; absent names count as not given.
        ct: the CT (only for the pictures).
        phase: the contrast phase (``native`` disables the lumen masks), None when unknown.
        skip_dissection: ignore the true/false lumen masks.
        erosion: the official ``--erosion``: landmark cuts of the aorta eroded once (0.8 mm).
        metadata: the JSON's metadata block (:func:`~totalseg.reports.nodeinfo.report_metadata`;
            the official defaults when None).

    Raises:
        InputError: without an aorta mask, or when the aorta yields no centerline.

    Examples:
        >>> from totalseg.reports.aorta.phantom import straight_tube
        >>> report = aorta_report(straight_tube(diameter_mm=24))
        >>> report.json["landmarks"]["9"]["diameter"], report.not_measurable["1"][:28]
        (2.6, 'annulus_proper was not given')
    """
    if AORTA.mask not in masks:
        raise InputError("no aorta mask: pass --seg-dir with aorta.nii.gz (or a total segmentation with --seg)")
    data = load_report_data(masks, ct=ct, phase=phase, skip_dissection=skip_dissection)
    if not data.aorta.any():
        raise InputError("the aorta mask is empty: pass the segmentation of a CT that shows the aorta")
    path = _centerline(data)
    anchors = anchor_structures(data.structures, data.aorta, path, data.spacing, data.missing)
    marks = place_landmarks(anchors, annulus_reason=_annulus_reason(data), path=path,
                            sections_mask=data.aorta_sections, affine=data.reference.affine, zooms=data.spacing)
    cuts, largest = landmark_cuts(marks, path, data, erosion=erosion)
    landmarks, flats = landmark_numbers(marks, cuts, largest, data)
    sections = section_numbers(marks, path, largest, data)
    metadata = metadata or report_metadata(None, version=REPORT_VERSION)
    result = {"landmarks": landmarks, "section_stats": sections, "metadata": metadata}
    placed = {n: m.index for n, m in marks.items() if m.index is not None}
    return AortaReport(result, _reasons(marks, data), flats, placed, path, data)


def _centerline(data: ReportData) -> np.ndarray:
    """The official centerline: skeleton path, bottom first, continued to the annulus centre and 1 voxel on."""
    try:
        path = cl.orient_upward(cl.skeleton_path(cl.smoothed_for_skeleton(data.aorta)))
    except ValueError as exc:
        raise InputError(f"{exc}: the aorta mask is too small or fragmented for a centerline; "
                         "pass a segmentation that covers the aorta") from None
    annulus_centre = find_center(data.annulus)
    if annulus_centre is None:
        return path
    path = cl.append_point(path, annulus_centre)
    longer = cl.extended(path, 1)
    return longer if data.annulus[tuple(longer[-1].astype(int))] else path


def _annulus_reason(data: ReportData) -> str:
    if "annulus" in data.missing:
        return "annulus_proper was not given (it comes from the 'aorta_annulus' model)"
    if data.annulus_volume_mm3 < MIN_STRUCTURE_MM3:
        return f"annulus_proper is empty or smaller than {MIN_STRUCTURE_MM3} mm^3"
    return ""


def _reasons(marks: dict[int, Placement], data: ReportData) -> dict[str, str]:
    """Landmark number or section name -> why it is not measurable (also the lumen note, if any)."""
    out = {str(n): "; ".join(dict.fromkeys(m.reasons)) for n, m in marks.items() if m.index is None}
    for name, (first, last) in SECTIONS.items():
        missing = [str(n) for n in (first, last) if marks[n].index is None]
        if missing:
            names = " and ".join(f"{n} ({LANDMARKS[int(n)].name})" for n in missing)
            out[name] = f"landmark {names} is not measurable"
    if data.lumen_note:
        out["lumen"] = data.lumen_note
    return out
