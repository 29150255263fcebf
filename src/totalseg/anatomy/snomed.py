"""SNOMED-CT codes and display colours per structure, from the official ``snomed_mapping.csv``."""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Code:
    """One coded concept: coding scheme (``SCT``), code value and meaning."""

    scheme: str
    value: str
    meaning: str


@dataclass(frozen=True)
class StructureCodes:
    """What DICOM-SEG segment descriptions and RTSTRUCT ROIs say about one structure.

    ``rgb`` is the recommended display colour (0-255 per channel).
    """

    category: Code
    type: Code
    type_modifier: Code | None
    region: Code | None
    region_modifier: Code | None
    rgb: tuple[int, int, int]


_TISSUE = Code("SCT", "85756007", "Tissue")


def _code(row: dict[str, str], prefix: str) -> Code | None:
    value = row[f"{prefix}.CodeValue"].strip()
    if not value:
        return None
    return Code(row[f"{prefix}.CodingSchemeDesignator"].strip(), value, row[f"{prefix}.CodeMeaning"].strip())


@lru_cache(maxsize=1)
def snomed_table() -> dict[str, StructureCodes]:
    """Structure name -> codes and colour for every row of the official table.

    Examples:
        >>> entry = snomed_table()["aorta"]
        >>> entry.type.meaning, entry.rgb
        ('Aorta', (216, 108, 54))
    """
    text = resources.files("totalseg.anatomy").joinpath("snomed_mapping.csv").read_text(encoding="utf-8")
    table = {}
    for row in csv.DictReader(io.StringIO(text)):
        rgb = tuple(int(c) for c in row["DicomRGBColor"].split(","))
        table[row["Structure"].strip()] = StructureCodes(
            category=_code(row, "SegmentedPropertyCategoryCodeSequence"),
            type=_code(row, "SegmentedPropertyTypeCodeSequence"),
            type_modifier=_code(row, "SegmentedPropertyTypeModifierCodeSequence"),
            region=_code(row, "AnatomicRegionSequence"),
            region_modifier=_code(row, "AnatomicRegionModifierSequence"),
            rgb=rgb,  # type: ignore[arg-type]
        )
    return table


def structure_codes(name: str) -> StructureCodes:
    """Codes and colour of a structure.

    Structures missing from the table get the generic "Tissue" codes and a colour derived from the
    name, so every run shows them in the same colour.

    Examples:
        >>> structure_codes("liver").type.value
        '10200004'
        >>> structure_codes("not_a_structure").type.meaning
        'Tissue'
    """
    known = snomed_table().get(name)
    if known is not None:
        return known
    digest = zlib.crc32(name.encode("utf-8"))
    rgb = (64 + (digest & 0x7F), 64 + ((digest >> 8) & 0x7F), 64 + ((digest >> 16) & 0x7F))
    return StructureCodes(_TISSUE, _TISSUE, None, None, None, rgb)
