"""Convert a dataset to nnU-Net v2's raw format, as TotalSegmentator's own conversion script does.

train + val subjects -> ``imagesTr/<id>_0000.nii.gz`` and ``labelsTr/<id>.nii.gz``; test subjects ->
``imagesTs``/``labelsTs``. Labels are the masks merged in class-map order into one uint8 map (a later
class wins where masks overlap, ``combined[mask > 0] = id``); a missing mask counts as empty and is
reported. ``dataset.json`` has ``channel_names {"0": "CT"}`` (MRI: ``"MR"``) and
``labels {"background": 0, ...}``; ``splits_final.json`` is one fold ``[{"train": [...], "val": [...]}]``
from the split (copy it to nnU-Net's preprocessed folder of the dataset before training).
Subjects run in parallel; a second run keeps the outputs that are intact and newer than their sources
and writes only what is missing, stale or damaged.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.anatomy import class_map, part_map
from totalseg.dataset.layout import DatasetIndex
from totalseg.dataset.masks import merge_masks, read_nifti
from totalseg.dataset.parallel import run_parallel
from totalseg.dataset.splits import assign_split
from totalseg.errors import InputError, OutputError
from totalseg.imaging.volume import LabelVolume
from totalseg.io.atomic import atomic_path, atomic_write_text
from totalseg.io.writers import write_multilabel

FORMATS = {"nifti": ".nii.gz", "nrrd": ".nrrd"}
READER_WRITERS = {"nifti": "NibabelIOWithReorient", "nrrd": "SimpleITKIO"}
CHANNELS = {"ct": "CT", "mr": "MR"}
_SETTINGS_FILE = ".totalseg-nnunet.json"


@dataclass
class NnunetReport:
    """Subjects written per part (``Tr``/``Ts``), missing masks (counted empty) and subjects skipped."""

    out: Path
    written: dict[str, list[str]] = field(default_factory=lambda: {"Tr": [], "Ts": []})
    missing_masks: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    root: Path
    subject: str
    image_name: str
    out: Path
    part: str  # "Tr" or "Ts"
    labels: tuple[tuple[int, str], ...]
    fmt: str


def resolve_classes(index: DatasetIndex, classes: str | Mapping[int, str] | None) -> dict[int, str]:
    """The label map to write: the dataset's own, a class map name, or a part map such as
    ``class_map_part_organs`` (of the dataset's modality).

    Examples:
        >>> resolve_classes(index, "class_map_part_organs")[1]  # doctest: +SKIP
        'spleen'
    """
    if classes is None:
        return dict(index.classes)
    if isinstance(classes, Mapping):
        return {int(k): str(v) for k, v in classes.items()}
    for lookup in (lambda name: part_map(name, modality=index.modality), class_map):
        try:
            return lookup(classes)
        except KeyError:
            pass
    raise InputError(f"unknown class map {classes!r}; use total, total_v1, mri_dataset_v100 or a part map "
                     "such as class_map_part_organs")


def to_nnunet(
    index: DatasetIndex,
    out: str | os.PathLike,
    *,
    classes: str | Mapping[int, str] | None = None,
    fmt: str = "nifti",
    split: str = "official",
    workers: int | None = None,
    progress: bool = True,
) -> NnunetReport:
    """Write ``index`` into ``out`` in nnU-Net v2's raw format (see the module docstring).

    Args:
        index: the dataset.
        out: the nnU-Net dataset folder, e.g. ``nnUNet_raw/Dataset291_TotalSegmentator_part1_organs``.
        classes: label map (see :func:`resolve_classes`); default the dataset's own class list.
        fmt: ``nifti`` (``.nii.gz``; images copied byte for byte) or ``nrrd``.
        split: ``official`` (meta.csv) or ``ratio``; train and val go to ``*Tr``, test to ``*Ts``.
        workers: processes.
        progress: show a progress bar.

    Returns:
        An :class:`NnunetReport`.

    Raises:
        InputError: unknown classes or format, or no split. OutputError: ``out`` was made with other
        settings (classes or format) or cannot be written.

    Examples:
        >>> to_nnunet(open_dataset("TotalSegmentator_v201"), "Dataset291_organs",
        ...           classes="class_map_part_organs")  # doctest: +SKIP
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    labels = resolve_classes(index, classes)
    if not labels or max(labels) > 255 or min(labels) < 1:
        raise InputError(f"label ids must be 1..255 for uint8 label maps, got {min(labels)}..{max(labels)}")
    splits = assign_split(index, split)
    out = Path(out)
    _prepare_out(out, labels, fmt)
    jobs = [
        _Job(index.root, s.id, index.image_name, out, "Ts" if splits[s.id] == "test" else "Tr",
             tuple(labels.items()), fmt)
        for s in index.subjects
    ]
    report = NnunetReport(out)
    for sid, part, missing, error in run_parallel(_convert_subject, jobs, workers=workers, progress=progress,
                                                  desc="to-nnunet"):
        if error:
            report.skipped.append((sid, error))
            continue
        report.written[part].append(sid)
        report.missing_masks += [f"{sid}/{name}" for name in missing]
    for part in report.written:
        report.written[part].sort()
    report.skipped.sort()
    _write_json(out / "dataset.json", dataset_json(index, labels, fmt, len(report.written["Tr"])))
    train = [s for s in report.written["Tr"] if splits[s] == "train"]
    val = [s for s in report.written["Tr"] if splits[s] == "val"]
    _write_json(out / "splits_final.json", [{"train": train, "val": val}])
    return report


def dataset_json(index: DatasetIndex, labels: Mapping[int, str], fmt: str, n_training: int) -> dict:
    """nnU-Net v2's ``dataset.json`` content for these labels and format."""
    return {
        "name": "TotalSegmentator",
        "description": f"TotalSegmentator {index.modality.upper()} dataset, classes {index.class_map_name}",
        "reference": "https://zenodo.org/records/10047292" if index.modality == "ct" else "https://zenodo.org/records/11367005",
        "licence": "CC-BY-4.0",
        "channel_names": {"0": CHANNELS[index.modality]},
        "labels": {"background": 0, **{name: int(i) for i, name in labels.items()}},
        "numTraining": n_training,
        "file_ending": FORMATS[fmt],
        "overwrite_image_reader_writer": READER_WRITERS[fmt],
    }


def _convert_subject(job: _Job) -> tuple[str, str, list[str], str | None]:
    ext = FORMATS[job.fmt]
    image_out = job.out / f"images{job.part}" / f"{job.subject}_0000{ext}"
    label_out = job.out / f"labels{job.part}" / f"{job.subject}{ext}"
    image_path = job.root / job.subject / job.image_name
    masks = [_mask_path(job, name) for _, name in job.labels]
    missing = [name for (_, name), path in zip(job.labels, masks) if not path.exists()]
    try:
        header = _image_header(image_path)
        shape = tuple(int(n) for n in header.get_data_shape()[:3])
        if not _reusable(label_out, [image_path, *masks], shape, job.fmt):
            combined = merge_masks(job.root / job.subject / "segmentations", shape, job.labels)
            _write_labels(combined, header, dict(job.labels), label_out, job.fmt)
        if not _reusable(image_out, [image_path], shape, job.fmt, copy_of=image_path if job.fmt == "nifti" else None):
            _write_image(image_path, image_out, job.fmt)
    except InputError as exc:
        return job.subject, job.part, [], str(exc)
    return job.subject, job.part, missing, None


def _reusable(path: Path, sources: list[Path], shape: tuple[int, ...], fmt: str, *,
              copy_of: Path | None = None) -> bool:
    """Whether an output of an earlier run can be kept: present, newer than its sources and intact.

    Outputs are written atomically, so a damaged one was damaged afterwards (a disk error, a copy cut
    short, an empty file left by a tool); such a file is written again rather than trusted. A byte
    copy is checked by its size; any other output is read back whole (a truncated gzip shows only
    at its end) and must have the image's shape.
    """
    try:
        built = path.stat()
        if built.st_size == 0 or any(src.exists() and src.stat().st_mtime_ns > built.st_mtime_ns for src in sources):
            return False
        if copy_of is not None:
            return built.st_size == copy_of.stat().st_size
        if fmt == "nifti":
            return read_nifti(path).array.shape == shape
        from totalseg.io.readers import read_volume

        return read_volume(path).array.shape == shape
    except (InputError, OSError, RuntimeError):
        return False


def _mask_path(job: _Job, name: str) -> Path:
    return job.root / job.subject / "segmentations" / f"{name}.nii.gz"


def _image_header(path: Path) -> nib.Nifti1Header:
    if not path.is_file():
        raise InputError(f"{path}: image missing; download the dataset again")
    try:
        return nib.load(path).header
    except Exception as exc:  # nibabel raises many types for broken files
        raise InputError(f"{path}: cannot read the image header ({exc}); download the dataset again") from None


def _write_labels(combined: np.ndarray, header: nib.Nifti1Header, labels: dict[int, str], path: Path,
                  fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nifti":
        write_multilabel(LabelVolume(combined, affine=header.get_best_affine(), header=header), path, labels, threads=1)
    else:
        _write_nrrd(combined, header.get_best_affine(), path)


def _write_image(source: Path, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nifti":
        _atomic_copy(source, path)
        return
    from totalseg.io.readers import read_volume

    volume = read_volume(source)
    _write_nrrd(volume.array, volume.affine, path)


def _write_nrrd(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    """Write an (X, Y, Z) array with a RAS affine as a gzip NRRD (ITK's LPS geometry), atomically."""
    import SimpleITK as sitk

    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(affine, dtype=np.float64)
    spacing = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
    img = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    img.SetSpacing([float(s) for s in spacing])
    img.SetDirection([float(v) for v in (lps[:3, :3] / spacing).ravel()])
    img.SetOrigin([float(v) for v in lps[:3, 3]])
    with atomic_path(path) as tmp:
        try:
            sitk.WriteImage(img, str(tmp), useCompression=True)
        except RuntimeError as exc:  # SimpleITK reports I/O failures this way
            raise OSError(str(exc).strip().splitlines()[-1]) from exc


def _atomic_copy(source: Path, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)


def _prepare_out(out: Path, labels: Mapping[int, str], fmt: str) -> None:
    """Create ``out`` and its four folders; refuse a folder made with other classes or format (its
    finished files would be stale) or one with other content."""
    settings = {"labels": {str(k): v for k, v in labels.items()}, "format": fmt}
    marker = out / _SETTINGS_FILE
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text())
        except ValueError:
            previous = None
        if previous != settings:
            raise OutputError(f"{out} was written with other classes or format; pass an empty folder")
    elif out.is_dir() and any(out.iterdir()):
        raise OutputError(f"{out} is not empty and was not made by 'totalseg dataset to-nnunet'; pass an empty folder")
    try:
        for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
            (out / sub).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out} ({exc.strerror}); choose another folder") from None
    _write_json(marker, settings)


def _write_json(path: Path, content) -> None:
    atomic_write_text(path, json.dumps(content, indent=4) + "\n")
