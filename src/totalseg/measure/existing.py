"""Reports for a segmentation that already exists: ``totalseg measure``.

The same statistics.json, clinical.json and ``preview_<task>.png`` that ``totalseg segment`` writes
(:func:`totalseg.measure.reports.write_reports`), for masks made earlier, by us or by the official
tool, of any task: a multilabel file (its label-name extension gives the names; without one, the
task's class map) or a folder of ``<class>.nii.gz`` masks.

The statistics are measured on the grid of the masks, which must be the image's: the input grid,
as the official tool measures without ``--fast``. With ``--fast`` the official tool measures on its
3 mm model grid instead (the image reoriented to RAS and resampled), so its statistics.json equals
``measure``'s byte for byte when that grid is the input's (a 3 mm RAS input, where the resampling is
the identity) and not otherwise: the masks written to the input grid are not the ones it measured.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from totalseg.anatomy.class_maps import class_map
from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import read_volume
from totalseg.io.nifti_ext import is_label_map_extension, load_label_map
from totalseg.measure.reports import MeasureOptions, write_reports
from totalseg.measure.segmentations import read_segmentation

# Masks the official tool writes beside a task's class masks (body: body.nii.gz and skin.nii.gz).
DERIVED_MASKS = {"body": ("body", "skin"), "body_mr": ("body", "skin")}
_GRID_ATOL_MM = 1e-3


def load_segmentation(seg: str | os.PathLike, *, task: str | None = None) -> tuple[LabelVolume, dict[int, str], str]:
    """An existing segmentation: its labels, label id -> class name, and the task it belongs to.

    Args:
        seg: a multilabel NIfTI file or a folder of per-class ``<class>.nii.gz`` masks.
        task: the task whose class map names the labels; by default the file's label-name
            extension, else ``total`` for a file, and for a folder the first task (``total`` first)
            whose class map holds every mask name.

    Raises:
        InputError: a missing path, mask names or label ids outside the task's class map.

    Examples:
        >>> import tempfile, nibabel as nib
        >>> from totalseg.io.nifti_ext import add_label_map_to_nifti
        >>> folder = Path(tempfile.mkdtemp())
        >>> img = nib.Nifti1Image(np.array([[[0, 1], [2, 0]]], np.uint8), np.eye(4))
        >>> nib.save(add_label_map_to_nifti(img, {1: "liver", 2: "spleen"}), folder / "seg.nii.gz")
        >>> labels, classes, task = load_segmentation(folder / "seg.nii.gz")
        >>> classes, task
        ({1: 'liver', 2: 'spleen'}, 'total')
    """
    path = Path(seg)
    if path.is_dir():
        task = task or _task_of_masks(_mask_names(path))
        _check_mask_names(path, _known(task))
        return read_segmentation(path, task), _known(task), task
    if not path.is_file():
        raise InputError(f"{path}: no such segmentation file or folder; pass a multilabel .nii.gz or a mask folder")
    labels = read_segmentation(path, task or "total")
    classes = _header_classes(path) or _known(task or "total")
    present = sorted(set(np.unique(np.asarray(labels.array)).tolist()) - {0} - set(classes))
    if present:
        raise InputError(f"{path}: label ids {present[:8]} are not in the class map of {task or 'total'}; "
                         "pass --task with the task that made this segmentation")
    return labels, classes, task or "total"


def check_same_grid(image: Volume, labels: Volume, seg: str | os.PathLike) -> None:
    """Refuse masks that are not on the image's grid (shape and affine within 0.001 mm).

    Examples:
        >>> a = Volume(np.zeros((2, 2, 2)), affine=np.eye(4))
        >>> check_same_grid(a, a, "seg.nii.gz") is None
        True
    """
    if labels.shape == image.shape and np.allclose(labels.affine, image.affine, atol=_GRID_ATOL_MM):
        return
    raise InputError(
        f"{seg}: the segmentation's grid (shape {labels.shape}, affine {_row(labels.affine)}) differs from the "
        f"image's (shape {image.shape}, affine {_row(image.affine)}); pass masks written on this image's grid "
        "(`totalseg segment` or TotalSegmentator without --save_lowres) or resample them to it")


def measure_segmentation(
    ct: str | os.PathLike | Volume,
    seg: str | os.PathLike,
    output: str | os.PathLike,
    *,
    task: str | None = None,
    statistics: bool | str | os.PathLike = True,
    include_incomplete: bool = False,
    aggregation: str = "mean",
    statistics_extra: bool = False,
    clinical: bool = False,
    preview: bool = False,
) -> dict[str, Path]:
    """Write statistics.json (and clinical.json, ``preview_<task>.png``) of an existing segmentation.

    Args:
        ct: the image the masks were made from (a path or a Volume).
        seg: a multilabel file or a folder of per-class masks on the image's grid.
        output: the folder the reports go into (created).
        task: see :func:`load_segmentation`.
        statistics: write statistics.json into ``output``, or to this path; ``False``: none.
        include_incomplete: also measure structures within 3 voxels of the border (official ``-sii``).
        aggregation: ``mean`` or ``median`` intensity (official ``-sa``).
        statistics_extra: add voxel count, intensity spread, centroid and bounding box.
        clinical: write clinical.json (:mod:`totalseg.measure.clinical`).
        preview: write ``preview_<task>.png``.

    Returns:
        Report name -> the file written.

    Raises:
        InputError: unreadable inputs, unknown mask names, masks off the image's grid.

    Examples:
        >>> import json, tempfile, nibabel as nib
        >>> folder = Path(tempfile.mkdtemp())
        >>> ct = Volume(np.full((8, 8, 8), 50, np.int16), affine=np.eye(4))
        >>> mask = np.zeros((8, 8, 8), np.uint8); mask[3:5, 3:5, 3:5] = 1
        >>> nib.save(nib.Nifti1Image(mask, np.eye(4)), folder / "liver.nii.gz")
        >>> written = measure_segmentation(ct, folder, folder / "out")
        >>> json.loads(written["statistics"].read_text())["liver"]
        {'volume': 8.0, 'intensity': 50.0}
    """
    image = ct if isinstance(ct, Volume) else read_volume(ct)
    labels, classes, task = load_segmentation(seg, task=task)
    check_same_grid(image, labels, seg)
    options = MeasureOptions(statistics, statistics_extra, include_incomplete, aggregation, clinical, preview)
    folder = Path(output)
    targets = options.targets(folder, task)
    if not targets:
        raise InputError("nothing to measure: ask for --statistics, --clinical or --preview")
    folder.mkdir(parents=True, exist_ok=True)
    return write_reports(image, labels, classes, options, targets, modality=_modality(task), title=f"totalseg {task}")


def _mask_names(folder: Path) -> list[str]:
    return sorted(p.name[: -len(".nii.gz")] for p in folder.glob("*.nii.gz"))


def _known(task: str) -> dict[int, str]:
    try:
        return class_map(task)
    except KeyError:
        raise InputError(f"unknown task {task!r}; pass a task of `totalseg info --list-tasks`") from None


def _task_of_masks(names: list[str]) -> str:
    from totalseg.models.tasks import catalog

    for task in ["total", *(t for t in catalog()["tasks"] if t != "total")]:
        try:
            known = set(class_map(task).values()) | set(DERIVED_MASKS.get(task, ()))
        except KeyError:  # a task without a class map of its own
            continue
        if names and set(names) <= known:
            return task
    raise InputError(f"mask names {names[:6]} are not the classes of one task; pass --task with the task "
                     "that made them, or only that task's <class>.nii.gz masks")


def _check_mask_names(folder: Path, classes: dict[int, str]) -> None:
    names = _mask_names(folder)
    unknown = sorted(set(names) - set(classes.values()) - {n for d in DERIVED_MASKS.values() for n in d})
    if unknown:
        raise InputError(f"{folder}: masks {unknown[:6]} are not classes of this task; pass --task with the task "
                         "that made them, or remove them from the folder")


def _header_classes(path: Path) -> dict[int, str] | None:
    import nibabel as nib

    try:
        header = nib.load(path).header
    except Exception:  # not a NIfTI (NRRD, MHA): no label extension to read
        return None
    if not any(is_label_map_extension(ext) for ext in getattr(header, "extensions", ())):
        return None
    return load_label_map(path)


def _modality(task: str) -> str:
    from totalseg.models.tasks import catalog

    return catalog()["tasks"].get(task, {}).get("modality", "ct")


def _row(affine: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(f"{v:g}" for v in row) for row in np.round(affine[:3], 3)) + "]"
