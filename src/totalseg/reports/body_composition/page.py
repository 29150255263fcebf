"""Writing the report: ``body_composition.json`` and the one-page ``body_composition.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from totalseg.io.atomic import atomic_write_text
from totalseg.measure.files import write_json
from totalseg.reports.page import Section, html_page

JSON_NAME = "body_composition.json"
HTML_NAME = "body_composition.html"
LABELS = {"skeletal_muscle_area": "Skeletal muscle area", "skeletal_muscle_index": "Skeletal muscle index",
          "muscle_attenuation": "Muscle attenuation (mean HU)", "visceral_fat_area": "Visceral fat area",
          "subcutaneous_fat_area": "Subcutaneous fat area", "intermuscular_fat_area": "Intermuscular fat area"}


def write_report(result: dict[str, Any], png: bytes | None, folder: Path) -> dict[str, Path]:
    """Write both files into ``folder`` (created), atomically; returns their paths.

    Examples:
        >>> import tempfile
        >>> paths = write_report({"status": "not measurable", "reason": "no L3", "measurements": {},
        ...                       "sarcopenia": [], "myosteatosis": [], "hu_windows": {"sources": []}},
        ...                      None, Path(tempfile.mkdtemp()))
        >>> "no L3" in paths["html"].read_text()
        True
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": write_json(result, folder / JSON_NAME, indent=2)}
    paths["html"] = atomic_write_text(folder / HTML_NAME, html_page("Body composition at L3", _sections(result, png),
                                                                     footer=_footer(result)))
    return paths


def _sections(result: dict[str, Any], png: bytes | None) -> list[Section]:
    if result["status"] != "measured":
        return [Section("L3 level", notes=[result["reason"]])]
    rows = [(LABELS[k], "-" if m["value"] is None else f"{m['value']} {m['unit']}", m["reason"])
            for k, m in result["measurements"].items()]
    sections = [Section("Measurements on the L3 mid-slice", rows=rows, header=("measure", "value", "note"))]
    for title, key in (("Sarcopenia (skeletal muscle index)", "sarcopenia"),
                       ("Myosteatosis (muscle attenuation)", "myosteatosis")):
        cut_rows = [(r["source"], r["sex"] or "any", _bmi(r["bmi_range"]), "-" if r["threshold"] is None
                     else f"< {r['threshold']}", _verdict(r)) for r in result[key]]
        sections.append(Section(title, rows=cut_rows, header=("cut-off", "sex", "BMI", "threshold", "result")))
    level = result["level"]
    caption = (f"L3 mid-slice (slice {level['slice_index']} of L3's {level['l3_slices']}, z = {level['z_mm']} mm): "
               "red muscle, yellow visceral fat, blue subcutaneous fat, green intermuscular fat")
    sections.append(Section("Slice", images=[(caption, png)] if png else []))
    return sections


def _bmi(bmi_range: list[float] | None) -> str:
    if bmi_range is None:
        return "any"
    return f"< {bmi_range[1]:g}" if bmi_range[0] == 0 else f">= {bmi_range[0]:g}"


def _verdict(row: dict[str, Any]) -> str:
    if row["below_cutoff"] is None:
        return f"not assessed: {row['reason']}"
    return "below the cut-off" if row["below_cutoff"] else "not below"


def _footer(result: dict[str, Any]) -> str:
    windows = result.get("hu_windows", {})
    sources = "; ".join(windows.get("sources", []))
    return (f"HU windows: muscle {windows.get('muscle')}, fat {windows.get('fat')} ({sources}). "
            "Research use; not a diagnosis.")
