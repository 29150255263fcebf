"""The cases of a batch: one input each (an image file, a DICOM folder or zip) and a unique,
filesystem-safe name that becomes its output folder ``OUTDIR/<case>/``."""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from totalseg.errors import InputError

# Longest first, so "ct.nii.gz" loses ".nii.gz" and not only ".gz".
SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".zip", ".dcm")
# Files that are volumes by themselves; a folder holding some of them is a folder of cases.
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


# optional case-list columns: the patient's data for the clinical reports (--reports)
PATIENT_COLUMNS = {"height_m": float, "weight_kg": float, "sex": str, "nodeinfo": Path}


@dataclass(frozen=True)
class Case:
    """One input of a batch, the name of its output folder, and the patient's data for the reports
    (``height_m``, ``weight_kg``, ``sex``, ``nodeinfo``; from a case list's columns of those names)."""

    name: str
    input: Path
    patient: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def cases_from_paths(paths: Iterable[str | os.PathLike]) -> list[Case]:
    """Cases from files, DICOM folders and zips; a folder holding NIfTI/NRRD/MHA files gives one
    case per file. Names come from the file names (``ct.nii.gz`` -> ``ct``); when two inputs share
    a name, their parent folders name them instead (``s0001/ct.nii.gz`` -> ``s0001``).

    Examples:
        >>> [c.name for c in cases_from_paths(["a/s01/ct.nii.gz", "a/s02/ct.nii.gz", "b/mr 3.nrrd"])]
        ['s01', 's02', 'mr_3']
    """
    inputs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and (volumes := _volumes_in(path)):
            inputs.extend(volumes)
        else:
            inputs.append(path)
    if not inputs:
        raise InputError("no inputs given; pass image files, DICOM folders or zips, or --list FILE.csv")
    return [Case(n, p) for n, p in zip(_unique_names(inputs), inputs)]


def cases_from_csv(path: str | os.PathLike) -> list[Case]:
    """Cases from a CSV file with a header row: an ``input`` column (paths relative to the CSV's
    folder or absolute), an optional ``case`` column naming the output folders, and optional
    ``height_m``, ``weight_kg``, ``sex`` and ``nodeinfo`` (a JSON path) columns for ``--reports``.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "list.csv").write_text("case,input\\np1,scans/p1.nii.gz\\n")
        >>> cases_from_csv(folder / "list.csv")[0].name
        'p1'
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read the case list ({exc}); pass a CSV file with an 'input' column") from None
    columns = set(rows[0]) if rows else set()
    if "input" not in columns:
        raise InputError(f"{path}: the case list needs a header row with an 'input' column (and optionally 'case')")
    inputs = [_resolve(row["input"], path.parent, path, i) for i, row in enumerate(rows, start=2)]
    patients = [_patient(row, path, i) for i, row in enumerate(rows, start=2)]
    if "case" not in columns:
        return [Case(n, p, d) for n, p, d in zip(_unique_names(inputs), inputs, patients)]
    names = [_check_name((row["case"] or "").strip(), path, i) for i, row in enumerate(rows, start=2)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{path}: case names must be unique; repeated: {', '.join(duplicates[:5])}")
    return [Case(n, p, d) for n, p, d in zip(names, inputs, patients)]


def _patient(row: dict[str, str | None], source: Path, line: int) -> dict[str, Any]:
    """The row's non-empty patient columns, typed (a relative ``nodeinfo`` is relative to the CSV)."""
    patient: dict[str, Any] = {}
    for column, kind in PATIENT_COLUMNS.items():
        text = (row.get(column) or "").strip()
        if not text:
            continue
        try:
            value = kind(text)
        except ValueError:
            raise InputError(f"{source}, line {line}: {column} {text!r} is not a number; write e.g. 1.75") from None
        patient[column] = source.parent / value if isinstance(value, Path) and not value.is_absolute() else value
    return patient


def case_stem(path: Path) -> str:
    """The file name without its image suffix, made safe for a folder name.

    Examples:
        >>> case_stem(Path("scans/CT 01.nii.gz")), case_stem(Path("dicom/series7"))
        ('CT_01', 'series7')
    """
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return _safe(name)


def _volumes_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(VOLUME_SUFFIXES)
                  and not p.name.startswith("."))


def _unique_names(inputs: Sequence[Path]) -> list[str]:
    names = [case_stem(p) for p in inputs]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        groups[name].append(i)
    for stem, members in groups.items():
        if len(members) == 1:
            continue
        by_parent = [_safe(inputs[i].parent.name) for i in members]
        for candidates in (by_parent, [f"{parent}_{stem}" for parent in by_parent]):
            if len(set(candidates)) == len(candidates) and all(candidates):
                for i, name in zip(members, candidates):
                    names[i] = name
                break
        else:
            shown = ", ".join(str(inputs[i]) for i in members[:3])
            raise InputError(f"inputs {shown} would share the case name {stem!r}; "
                             "name the cases in a --list CSV with a 'case' column")
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise InputError(f"case names {', '.join(clashes[:5])} are repeated; "
                         "name the cases in a --list CSV with a 'case' column")
    return names


def _resolve(raw: str | None, base: Path, source: Path, line: int) -> Path:
    text = (raw or "").strip()
    if not text:
        raise InputError(f"{source}, line {line}: empty 'input'; give the path of an image, DICOM folder or zip")
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _check_name(name: str, source: Path, line: int) -> str:
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name:
        raise InputError(f"{source}, line {line}: case name {name!r} is not a plain folder name; "
                         "use letters, digits, '-', '_' or '.' (not leading)")
    return name


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "case"
