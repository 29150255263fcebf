"""Output types (``nifti``, ``dicom_seg``, ``dicom_rtstruct``) and where each one is written.

The paths follow the official tool's ``-o``/``--output_type`` rules:

- ``nifti`` alone: ``-o`` is the folder of per-class masks, or with ``--ml`` the multilabel file.
- one DICOM type alone: ``-o`` is the ``.dcm`` file (``.dcm`` is appended when missing); an
  existing folder gets ``<task>_segmentation_seg.dcm`` / ``<task>_segmentation_rtstruct.dcm``.
- several types: in an existing folder ``-o`` the base name is ``<task>_segmentation``;
  otherwise the folder is ``-o``'s parent and the base name ``-o``'s name up to its first dot.
  Each type writes ``<base>.nii.gz`` (multilabel), ``<base>_seg.dcm``, ``<base>_rtstruct.dcm``.

``dicom`` is accepted as the official alias of ``dicom_rtstruct``; comma-separated lists work too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io.writers import write_class_masks, write_multilabel

OUTPUT_TYPES = ("nifti", "dicom_seg", "dicom_rtstruct")
DICOM_OUTPUT_TYPES = ("dicom_seg", "dicom_rtstruct")
_ALIASES = {"dicom": "dicom_rtstruct"}


@dataclass(frozen=True)
class OutputPlan:
    """Where each requested output goes; ``None`` for types not asked for.

    ``nifti_ml`` says whether ``nifti`` is one multilabel file (else a folder of per-class masks).
    ``folder`` is the folder the outputs live in (for files written beside them).
    """

    nifti: Path | None
    nifti_ml: bool
    dicom_seg: Path | None
    dicom_rtstruct: Path | None
    folder: Path

    @property
    def wants_dicom(self) -> bool:
        return self.dicom_seg is not None or self.dicom_rtstruct is not None


def normalize_output_types(values: str | Iterable[str]) -> tuple[str, ...]:
    """Output types as a tuple without repeats: commas split, ``dicom`` means ``dicom_rtstruct``.

    Examples:
        >>> normalize_output_types(["nifti,dicom_seg", "dicom"])
        ('nifti', 'dicom_seg', 'dicom_rtstruct')
    """
    items = [values] if isinstance(values, str) else list(values)
    result = []
    for item in items:
        for part in str(item).split(","):
            name = _ALIASES.get(part.strip(), part.strip())
            if name not in OUTPUT_TYPES:
                raise InputError(f"unknown output type {part!r}; choose from {', '.join(OUTPUT_TYPES)}")
            result.append(name)
    if not result:
        raise InputError(f"no output type given; choose from {', '.join(OUTPUT_TYPES)}")
    return tuple(dict.fromkeys(result))


def plan_outputs(
    output: str | os.PathLike, output_types: tuple[str, ...], *, ml: bool, task_name: str
) -> OutputPlan:
    """Paths of each output type, by the official rules (see the module docstring).

    Examples:
        >>> plan = plan_outputs("out/ct.nii.gz", ("nifti", "dicom_seg"), ml=False, task_name="total")
        >>> plan.nifti.as_posix(), plan.dicom_seg.as_posix(), plan.nifti_ml
        ('out/ct.nii.gz', 'out/ct_seg.dcm', True)
    """
    path = Path(output)
    if output_types == ("nifti",):
        return OutputPlan(path, ml, None, None, path.parent if ml else path)
    if len(output_types) == 1:
        suffix = "_seg.dcm" if output_types[0] == "dicom_seg" else "_rtstruct.dcm"
        if path.is_dir():
            file = path / f"{task_name}_segmentation{suffix}"
        else:
            file = path if path.suffix.lower() == ".dcm" else path.with_name(path.name + ".dcm")
        return OutputPlan(None, True, *_dicom_paths(output_types, file, file), folder=file.parent)
    folder, base = (path, f"{task_name}_segmentation") if path.is_dir() else (path.parent, path.name.split(".")[0])
    if not base:
        raise InputError(f"{path}: cannot derive a file name from this output; pass a folder or a name such as seg")
    nifti = folder / f"{base}.nii.gz" if "nifti" in output_types else None
    seg, rt = folder / f"{base}_seg.dcm", folder / f"{base}_rtstruct.dcm"
    return OutputPlan(nifti, True, *_dicom_paths(output_types, seg, rt), folder=folder)


def _dicom_paths(output_types: tuple[str, ...], seg: Path, rt: Path) -> tuple[Path | None, Path | None]:
    return (seg if "dicom_seg" in output_types else None, rt if "dicom_rtstruct" in output_types else None)


def write_outputs(labels: LabelVolume, classes: Mapping[int, str], plan: OutputPlan, series=None,
                  ml: tuple[LabelVolume, Mapping[int, str]] | None = None) -> list[Path]:
    """Write every output of ``plan``; DICOM outputs need the source ``series`` (a DicomSeries).

    ``ml`` gives the multilabel NIfTI other labels and names than the per-class masks and DICOM
    outputs (``--v1_order`` renumbers only the multilabel file, as the official tool does).

    Returns:
        The files (or, for per-class masks, the folder) written.
    """
    if plan.wants_dicom and series is None:
        raise InputError("DICOM outputs need a DICOM input (a folder or .zip of a series); use --output_type nifti")
    datasets = []  # built before any file is written, so a failure leaves nothing behind
    if plan.dicom_seg is not None:
        from totalseg.io.dicom_seg import build_dicom_seg

        datasets.append((build_dicom_seg(labels, series, classes), plan.dicom_seg))
    if plan.dicom_rtstruct is not None:
        from totalseg.io.rtstruct import build_rtstruct

        datasets.append((build_rtstruct(labels, series, classes), plan.dicom_rtstruct))
    written = []
    if datasets:
        from totalseg.io.dicom_seg import save_dataset

        written += [save_dataset(dataset, path) for dataset, path in datasets]
    if plan.nifti is not None:
        if plan.nifti_ml:
            plan.nifti.parent.mkdir(parents=True, exist_ok=True)
            ml_labels, ml_classes = ml or (labels, classes)
            write_multilabel(ml_labels, plan.nifti, ml_classes)
        else:
            write_class_masks(labels, plan.nifti, classes)
        written.append(plan.nifti)
    return written


def write_derived_body_masks(
    image: Volume, labels: LabelVolume, classes: Mapping[int, str], folder: Path
) -> list[Path]:
    """``body.nii.gz`` (trunk or extremities) and ``skin.nii.gz`` beside the body task's per-class
    masks, as the official tool adds them (not with ``--ml`` or ``--no_derived_masks``)."""
    from totalseg.engine.skin import body_mask, extract_skin

    body = body_mask(labels.array, classes)
    skin = extract_skin(image.array, body)  # integer HU compare exactly with the official float64 ones
    return [*write_class_masks(labels.with_data(body), folder, {1: "body"}),
            *write_class_masks(labels.with_data(skin), folder, {1: "skin"})]
