"""The index of a dataset in the Zenodo layout: subjects, image and mask paths, ``meta.csv``, class list.

The layout is ``<root>/meta.csv`` (``;``-separated, UTF-8 with a byte-order mark) and one folder per
subject, ``<root>/sXXXX/ct.nii.gz`` (MRI: ``mri.nii.gz``) with ``sXXXX/segmentations/<class>.nii.gz``.
Indexing only lists folders and reads ``meta.csv``; no image is opened.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from totalseg.anatomy import class_map
from totalseg.errors import InputError

IMAGE_NAMES = {"ct": "ct.nii.gz", "mr": "mri.nii.gz"}
MASK_FOLDER = "segmentations"
MASK_SUFFIX = ".nii.gz"
CLASS_MAPS_BY_MODALITY = {"ct": ("total", "total_v1"), "mr": ("mri_dataset_v100",)}
"""Candidate class maps per modality; the one that best matches the mask files is chosen."""


@dataclass(frozen=True)
class Subject:
    """One subject folder: its id (the folder name), ``meta.csv`` row and the mask names it holds."""

    id: str
    meta: Mapping[str, str] = field(default_factory=dict)
    masks: frozenset[str] = frozenset()
    has_image: bool = True


@dataclass(frozen=True)
class DatasetIndex:
    """Everything known about a dataset folder without opening an image.

    Attributes:
        root: the dataset folder (holding ``meta.csv`` and the subject folders).
        modality: ``"ct"`` or ``"mr"``.
        class_map_name: the class map the masks follow (``total``, ``total_v1``, ``mri_dataset_v100``)
            or ``"custom"``.
        classes: ``{label id: name}`` in the official label order.
        subjects: sorted by id (which is filename order).
        meta_columns: the ``meta.csv`` header, empty when there is no ``meta.csv``.
        warnings: what looked wrong while indexing (unknown mask files, meta rows without a folder).

    Examples:
        >>> import tempfile
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> root = write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=2, shape=(8, 8, 6))
        >>> index = open_dataset(root)
        >>> index.modality, len(index.classes), [s.id for s in index.subjects]
        ('ct', 117, ['s0000', 's0001'])
    """

    root: Path
    modality: str
    class_map_name: str
    classes: Mapping[int, str]
    subjects: tuple[Subject, ...]
    meta_columns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def image_name(self) -> str:
        return IMAGE_NAMES[self.modality]

    def image_path(self, subject: Subject | str) -> Path:
        return self.root / _sid(subject) / self.image_name

    def mask_path(self, subject: Subject | str, name: str) -> Path:
        return self.root / _sid(subject) / MASK_FOLDER / f"{name}{MASK_SUFFIX}"

    def relative_image_path(self, subject: Subject | str) -> str:
        """The image path relative to the root with ``/`` separators, e.g. ``s0011/ct.nii.gz``."""
        return f"{_sid(subject)}/{self.image_name}"

    def subject(self, subject_id: str) -> Subject:
        for subject in self.subjects:
            if subject.id == subject_id:
                return subject
        raise InputError(f"{self.root}: no subject {subject_id!r}; see 'totalseg dataset index' for the subjects")


def _sid(subject: Subject | str) -> str:
    return subject.id if isinstance(subject, Subject) else subject


def open_dataset(root: str | os.PathLike, *, classes: str | Mapping[int, str] | None = None) -> DatasetIndex:
    """Index a dataset folder in the Zenodo layout.

    Args:
        root: the folder holding ``meta.csv`` and the ``sXXXX`` subject folders.
        classes: a class map name (``total``, ``total_v1``, ``mri_dataset_v100``) or ``{id: name}``;
            default: the map of the dataset's modality that best matches the mask file names.

    Returns:
        The :class:`DatasetIndex`.

    Raises:
        InputError: ``root`` is missing or holds no subject folder, ``meta.csv`` is unreadable, or
            ``classes`` names no known class map.

    Examples:
        >>> open_dataset("/no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: /no/such/folder: no such folder; ...
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; pass the dataset folder (the one holding meta.csv)")
    meta_columns, meta_rows = read_meta(root / "meta.csv")
    folders = _subject_folders(root, meta_rows)
    modality = _modality(root, folders)
    mask_sets = {sid: _mask_names(root / sid) for sid in folders}
    name, class_names = _resolve_classes(classes, modality, mask_sets)
    warnings = _index_warnings(root, folders, meta_rows, mask_sets, set(class_names.values()))
    image_name = IMAGE_NAMES[modality]
    subjects = tuple(
        Subject(sid, meta_rows.get(sid, {}), frozenset(mask_sets[sid]), (root / sid / image_name).is_file())
        for sid in sorted(folders)
    )
    return DatasetIndex(root, modality, name, class_names, subjects, meta_columns, tuple(warnings))


def read_meta(path: Path) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    """The header and the rows (by ``image_id``) of a ``meta.csv``; empty when the file is missing.

    The official files are ``;``-separated UTF-8 with a byte-order mark; a ``,``-separated file
    and one without the mark are read too.
    """
    if not path.is_file():
        return (), {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc}); download the dataset again") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    columns = tuple(c.strip() for c in reader.fieldnames or ())
    if "image_id" not in columns:
        raise InputError(f"{path}: no 'image_id' column (header: {first.strip()!r}); expected the official meta.csv")
    rows = {}
    for row in reader:
        clean = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if clean.get("image_id"):
            rows[clean["image_id"]] = clean
    return columns, rows


def _subject_folders(root: Path, meta_rows: Mapping[str, dict]) -> list[str]:
    """Folders holding an image, and folders of ``meta.csv`` subjects holding anything (an image may be missing)."""
    folders = [
        entry.name for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
        and (any(os.path.isfile(os.path.join(entry.path, n)) for n in IMAGE_NAMES.values())
             or (entry.name in meta_rows and os.path.isdir(os.path.join(entry.path, MASK_FOLDER))))
    ]
    if not folders:
        raise InputError(
            f"{root}: not a TotalSegmentator dataset (no subject folder with ct.nii.gz or mri.nii.gz); pass the "
            "folder holding meta.csv and the sXXXX folders, or fetch one with 'totalseg dataset download'"
        )
    return folders


def _modality(root: Path, folders: list[str]) -> str:
    counts = {m: sum((root / sid / name).is_file() for sid in folders) for m, name in IMAGE_NAMES.items()}
    return "mr" if counts["mr"] > counts["ct"] else "ct"


def _mask_names(folder: Path) -> set[str]:
    seg = folder / MASK_FOLDER
    if not seg.is_dir():
        return set()
    return {e.name[: -len(MASK_SUFFIX)] for e in os.scandir(seg) if e.name.endswith(MASK_SUFFIX) and e.is_file()}


def _resolve_classes(
    classes: str | Mapping[int, str] | None, modality: str, mask_sets: Mapping[str, set[str]]
) -> tuple[str, dict[int, str]]:
    if isinstance(classes, Mapping):
        return "custom", {int(k): str(v) for k, v in classes.items()}
    if classes is not None:
        try:
            return classes, class_map(classes)
        except KeyError:
            known = ", ".join(n for ms in CLASS_MAPS_BY_MODALITY.values() for n in ms)
            raise InputError(f"unknown class map {classes!r}; use one of {known}") from None
    found = set().union(*mask_sets.values()) if mask_sets else set()

    def score(name: str) -> tuple[int, int]:
        names = set(class_map(name).values())
        return len(found & names), -len(found - names)

    best = max(CLASS_MAPS_BY_MODALITY[modality], key=score)
    return best, class_map(best)


def _index_warnings(
    root: Path, folders: list[str], meta_rows: Mapping[str, dict], mask_sets: Mapping[str, set[str]], names: set[str]
) -> list[str]:
    warnings = []
    if not (root / "meta.csv").is_file():
        warnings.append(f"{root}: no meta.csv; the official split is unknown (use the ratio or k-fold split)")
    missing = sorted(set(meta_rows) - set(folders))
    if missing:
        warnings.append(f"{len(missing)} subjects of meta.csv have no folder: {_few(missing)}")
    not_in_meta = sorted(set(folders) - set(meta_rows)) if meta_rows else []
    if not_in_meta:
        warnings.append(f"{len(not_in_meta)} subject folders are not in meta.csv: {_few(not_in_meta)}")
    unknown = sorted({f"{sid}/{MASK_FOLDER}/{n}{MASK_SUFFIX}" for sid, ms in mask_sets.items() for n in ms - names})
    if unknown:
        warnings.append(f"{len(unknown)} mask files are not in the class list and are ignored: {_few(unknown)}")
    return warnings


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
