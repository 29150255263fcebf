"""The pulmonary report's one-page HTML: a table of the five landmarks, the key slice of each measured
one, and why the others are not measurable.

Examples:
    >>> from totalseg.reports.pulmonary.report import report_json
    >>> page = report_page(report_json({}, {3: "the pul_bifurcation mask is empty"}, {}), {}, sources={})
    >>> "not measurable, because the pul_bifurcation mask is empty" in page
    True
"""

from __future__ import annotations

from totalseg.reports.page import Section, html_page
from totalseg.reports.pulmonary.landmarks import LANDMARKS, VERSION
from totalseg.reports.pulmonary.rendering import slice_png

_ENDS = ("start", "end", "start_pd", "end_pd")
_HEADER = ("landmark", "area (cm²)", "diameter (cm)", "perpendicular diameter (cm)")


def report_page(report: dict, slices: dict[int, dict], *, sources: dict[str, str]) -> str:
    """The HTML page of a report JSON (``report_json``), its slices and where each mask came from."""
    rows, notes, images = [], [], []
    reasons = report.get("not_measurable", {})
    for lm in LANDMARKS:
        entry = report["landmarks"][str(lm.index)]
        if entry["diameter"] is None:
            rows.append((f"{lm.index} {entry['name']}", "-", "-", "-"))
            why = reasons.get(str(lm.index), "it was not found")
            notes.append(f"{lm.index} {entry['name']}: not measurable, because {why}.")
            continue
        rows.append((f"{lm.index} {entry['name']}", entry["area"], entry["diameter"], entry["diameter_pd"]))
        if lm.index in slices:
            ends = None if entry["start_voxel"] is None else [entry[f"{k}_voxel"] for k in _ENDS]
            image = slice_png(slices[lm.index]["ct"], slices[lm.index]["mask"], ends)
            images.append((f"{lm.index} {entry['name']}: {entry['diameter']} x {entry['diameter_pd']} cm", image))
    sections = [
        Section("Pulmonary artery diameters", rows=rows, header=_HEADER, notes=notes),
        Section("Cross-sections", images=images,
                notes=("Each landmark's cross-section of the pulmonary artery, turned into the image plane "
                       "(CT window -700 to 1000 HU); red: largest diameter, blue: perpendicular diameter.",)),
        Section("Masks", rows=sorted(sources.items()), header=("mask", "source")),
    ]
    footer = (f"Measured as TotalSegmentator's pulmonary report {VERSION} measures (0.8 mm grid). "
              "Not for clinical use.")
    return html_page("Pulmonary artery report", sections, footer=footer)
