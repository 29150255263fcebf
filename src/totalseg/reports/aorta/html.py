"""The aorta report's one-page HTML: tables of landmarks and sections, key pictures, what is not measurable."""

from __future__ import annotations

from totalseg.reports.aorta.definitions import LANDMARKS, SECTIONS
from totalseg.reports.aorta.pictures import overview_png, section_png
from totalseg.reports.page import Section, html_page

_LANDMARK_HEADER = ("#", "landmark", "max diameter (mm)", "perpendicular (mm)", "area (cm²)",
                    "true lumen (mm)", "false lumen (mm)")
_SECTION_HEADER = ("section", "length (cm)", "max diameter (mm)", "volume (ml)", "true lumen (ml)",
                   "false lumen (ml)")


def _mm(value_cm) -> str:
    return "-" if value_cm is None else f"{value_cm * 10:.0f}"


def _value(value) -> str:
    return "-" if value is None else f"{value:g}"


def report_page(report) -> str:
    """The HTML page of an :class:`~totalseg.reports.aorta.report.AortaReport`.

    Examples:
        >>> from totalseg.reports.aorta.phantom import straight_tube
        >>> from totalseg.reports.aorta.report import aorta_report
        >>> page = report_page(aorta_report(straight_tube(diameter_mm=20)))
        >>> "Landmark 1 (annulus) not measurable, because annulus_proper was not given" in page
        True
    """
    landmarks, sections = report.json["landmarks"], report.json["section_stats"]
    reasons = report.not_measurable
    rows = []
    for number in LANDMARKS:
        lm = landmarks[str(number)]
        rows.append((number, lm["name"], _mm(lm["diameter"]), _mm(lm["diameter_pd"]), _value(lm["area"]),
                     _mm(lm["diameter_tl"]), _mm(lm["diameter_fl"])))
    notes = [f"Landmark {n} ({LANDMARKS[int(n)].name}) not measurable, because {why}."
             for n, why in reasons.items() if n.isdigit()]
    section_rows = [(name, _value(s["length"]), _mm(s["max_diameter"]), _value(s["volume"]),
                     _value(s["volume_true_lumen"]), _value(s["volume_false_lumen"])) for name, s in sections.items()]
    section_notes = [f"{name} not measurable, because {reasons[name]}." for name in SECTIONS if name in reasons]
    placed = {n: report.marks[n] for n in report.flats}
    images = [("overview: coronal projection, centerline and landmarks", overview_png(report.data.aorta, report.path,
                                                                                        placed))]
    images += [(f"landmark {n}: {LANDMARKS[n].name} (red: aorta, yellow: false lumen, green: max diameter, "
                f"blue: perpendicular)", section_png(flat, landmarks[str(n)])) for n, flat in report.flats.items()]
    lumen = [f"Lumen: {reasons['lumen']}."] if "lumen" in reasons else []
    return html_page("Aorta report", [
        Section("Landmarks (cross-sections perpendicular to the centerline)", rows=rows, header=_LANDMARK_HEADER,
                notes=notes + lumen),
        Section("Sections", rows=section_rows, header=_SECTION_HEADER, notes=section_notes),
        Section("Key slices", images=images),
    ], footer="Measured as TotalSegmentator's totalseg_aorta_report (version "
              f"{report.json['metadata']['version']}); not for clinical use.")
