"""``totalseg evaluate``: pair ground-truth and predicted segmentations, measure, summarise, write.

A subject is either one multilabel file ``<case>.nii.gz`` (nnU-Net's labelsTr, ``totalseg segment
--ml``) or a folder of per-class masks ``<case>/[segmentations/]<class>.nii.gz`` (the
TotalSegmentator dataset, ``totalseg segment``). Both sides may use either form; classes are
matched by name. Label names of multilabel files come from a ``dataset.json`` (beside the files or
one folder up, or given) or the file's label-name extension; otherwise the ids are the names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.errors import InputError
from totalseg.evaluation.metrics import label_metrics
from totalseg.imaging.resample import header_zooms
from totalseg.io.atomic import atomic_write_text
from totalseg.io.nifti_ext import load_label_map

NIFTI_SUFFIXES = (".nii.gz", ".nii")
METRICS = ("dice", "nsd")


@dataclass(frozen=True)
class EvaluationResult:
    """Per subject and class Dice and NSD (NaN where the class is absent from the ground truth)."""

    per_case: dict[str, dict[str, dict[str, float]]]  # case -> class -> {"dice", "nsd"}
    classes: tuple[str, ...]
    tolerance_mm: float

    def per_class(self) -> dict[str, dict[str, float]]:
        """Mean Dice and NSD of each class over the subjects where it is in the ground truth."""
        table = {}
        for name in self.classes:
            values = {m: [c[name][m] for c in self.per_case.values() if not math.isnan(c[name][m])] for m in METRICS}
            table[name] = {m: float(np.mean(v)) if v else float("nan") for m, v in values.items()}
            table[name]["n"] = len(values["dice"])
        return table

    def mean(self) -> dict[str, float]:
        """The overall score: the mean over classes of the per-class means (classes never present skipped)."""
        per_class = self.per_class().values()
        out = {}
        for m in METRICS:
            values = [c[m] for c in per_class if not math.isnan(c[m])]
            out[m] = float(np.mean(values)) if values else float("nan")
        return out


def evaluate_folders(
    gt_dir: str | os.PathLike,
    pred_dir: str | os.PathLike,
    *,
    classes: Sequence[str] | None = None,
    labels_json: str | os.PathLike | None = None,
    tolerance_mm: float = 3.0,
    case_ids: Sequence[str] | None = None,
    on_case: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Dice and NSD of every subject of ``gt_dir`` against the same-named one in ``pred_dir``.

    Args:
        gt_dir, pred_dir: folders of multilabel files or of per-class mask folders (see the module).
        classes: class names (or label ids) to measure; default every class of the ground truth.
        labels_json: a ``dataset.json`` naming the label ids of multilabel files.
        tolerance_mm: NSD tolerance.
        case_ids: only these cases of ``gt_dir`` (default all).
        on_case: called with each case id once it is measured (progress).

    Raises:
        InputError: a missing folder, no subjects, a subject missing from ``pred_dir``, unknown
            classes, or images whose shapes differ.

    Examples:
        >>> result = evaluate_folders("labelsTs", "predictions", classes=["liver"])  # doctest: +SKIP
        >>> result.mean()["dice"]  # doctest: +SKIP
        0.96
    """
    gt_root, pred_root = _folder(gt_dir, "ground truth"), _folder(pred_dir, "prediction")
    gt_cases = discover_cases(gt_root)
    if case_ids is not None:
        unknown = sorted(set(case_ids) - set(gt_cases))
        if unknown:
            raise InputError(f"{gt_root}: no ground truth for case(s) {', '.join(unknown[:5])}")
        gt_cases = {c: gt_cases[c] for c in case_ids}
    if not gt_cases:
        raise InputError(f"{gt_root}: no segmentations found; expected <case>.nii.gz files or <case>/ mask folders")
    pred_cases = discover_cases(pred_root)
    missing = sorted(set(gt_cases) - set(pred_cases))
    if missing:
        raise InputError(f"{pred_root}: no prediction for {len(missing)} case(s) ({', '.join(missing[:5])}); "
                         "predict every ground-truth case or evaluate a folder holding only the predicted ones")
    names = _label_names(gt_root, labels_json)
    per_case: dict[str, dict[str, dict[str, float]]] = {}
    wanted: tuple[str, ...] | None = None
    for case in sorted(gt_cases):
        gt = _load_case(gt_cases[case], names)
        pred = _load_case(pred_cases[case], names)
        if wanted is None:
            wanted = _check_classes(classes, gt.class_names, gt_root)
        per_case[case] = _measure(case, gt, pred, wanted, tolerance_mm)
        if on_case is not None:
            on_case(case)
    return EvaluationResult(per_case, wanted or (), float(tolerance_mm))


@dataclass(frozen=True)
class _Case:
    labels: np.ndarray  # integer label map
    ids: dict[str, int]  # class name -> id in ``labels``
    spacing_mm: tuple[float, float, float]
    source: Path

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.ids)


def discover_cases(root: Path) -> dict[str, Path]:
    """``{case id: file or mask folder}`` of a segmentation folder."""
    cases = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file() and entry.name.endswith(NIFTI_SUFFIXES):
            cases[_strip_suffix(entry.name)] = entry
        elif entry.is_dir() and _mask_folder(entry) is not None:
            cases[entry.name] = entry
    return cases


def _measure(case, gt: _Case, pred: _Case, classes, tolerance_mm) -> dict[str, dict[str, float]]:
    if gt.labels.shape != pred.labels.shape:
        raise InputError(f"case {case}: ground truth {gt.labels.shape} and prediction {pred.labels.shape} differ "
                         "in shape; predictions must be on the ground truth's grid")
    # Put the prediction's ids onto the ground truth's by class name (absent names -> 0).
    n = max(pred.ids.values(), default=0) + 1
    lut = np.zeros(max(n, int(pred.labels.max(initial=0)) + 1), dtype=np.int64)
    spare = max(gt.ids.values(), default=0) + 1
    gt_ids = dict(gt.ids)
    for name, pid in pred.ids.items():
        if name not in gt_ids:
            gt_ids[name] = spare
            spare += 1
        lut[pid] = gt_ids[name]
    pred_labels = lut[pred.labels]
    scores = label_metrics(gt.labels, pred_labels, class_ids=[gt_ids.get(c, spare) for c in classes],
                           spacing_mm=gt.spacing_mm, tolerance_mm=tolerance_mm)
    return {c: dict(zip(METRICS, scores[gt_ids.get(c, spare)])) for c in classes}


def _load_case(path: Path, names: dict[int, str] | None) -> _Case:
    if path.is_file():
        img = nib.load(path)
        labels = _integer_labels(np.asanyarray(img.dataobj), path)
        names = names or _extension_names(img)
        present = [int(i) for i in np.unique(labels) if i != 0]
        ids = {name: i for i, name in names.items()} if names else {str(i): i for i in present}
        for i in present:
            if i not in ids.values():
                ids[str(i)] = i
        return _Case(labels, ids, _spacing(img), path)
    folder = _mask_folder(path)
    files = sorted(p for p in folder.iterdir() if p.name.endswith(NIFTI_SUFFIXES))
    ids, labels, spacing = {}, None, None
    for i, file in enumerate(files, start=1):
        img = nib.load(file)
        mask = np.asanyarray(img.dataobj) > 0
        if labels is None:
            labels, spacing = np.zeros(mask.shape, np.uint16), _spacing(img)
        elif mask.shape != labels.shape:
            raise InputError(f"{file}: shape {mask.shape} differs from the other masks of {path} {labels.shape}")
        labels[mask] = i
        ids[_strip_suffix(file.name)] = i
    return _Case(labels, ids, spacing, path)


def _integer_labels(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim != 3:
        raise InputError(f"{path}: expected a 3-D label map, got shape {array.shape}")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or array.min() < 0:
            raise InputError(f"{path}: not a label map (non-integer values); pass an integer segmentation")
        return array.astype(np.uint16)
    if array.dtype.kind not in "ui" or array.min(initial=0) < 0:
        raise InputError(f"{path}: not a label map (voxel type {array.dtype}); pass an integer segmentation")
    return array


def _mask_folder(path: Path) -> Path | None:
    for folder in (path / "segmentations", path):
        if folder.is_dir() and any(p.name.endswith(NIFTI_SUFFIXES) for p in folder.iterdir()):
            return folder
    return None


def _label_names(root: Path, labels_json) -> dict[int, str] | None:
    if labels_json is not None:
        candidates = [Path(labels_json)]
    else:
        candidates = [root / "dataset.json", root.parent / "dataset.json"]
    for path in candidates:
        if path.is_file():
            try:
                labels = json.loads(path.read_text())["labels"]
                return {int(v): str(k) for k, v in labels.items() if int(v) != 0}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"{path}: not a dataset.json with a 'labels' table ({exc})") from None
        if labels_json is not None:
            raise InputError(f"{path} does not exist; pass the dataset.json that names the labels")
    return None


def _extension_names(img: nib.Nifti1Image) -> dict[int, str] | None:
    try:
        return load_label_map(img)
    except InputError:
        return None


def _check_classes(classes, available: tuple[str, ...], root: Path) -> tuple[str, ...]:
    if not classes:
        return available
    unknown = [c for c in classes if c not in available]
    if unknown:
        raise InputError(f"unknown class(es) {', '.join(unknown)} in {root}; known: {', '.join(available[:20])}"
                         f"{' ...' if len(available) > 20 else ''}")
    return tuple(dict.fromkeys(classes))


def _spacing(img: nib.Nifti1Image) -> tuple[float, float, float]:
    return tuple(float(z) for z in header_zooms(img.affine))  # type: ignore[return-value]


def _strip_suffix(name: str) -> str:
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _folder(path, what: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: {what} folder not found; pass a folder of segmentations")
    return root


def summary_table(result: EvaluationResult) -> str:
    """A plain-text table: mean Dice and NSD per class, then the overall mean."""
    rows = [(name, v["dice"], v["nsd"], v["n"]) for name, v in result.per_class().items()]
    width = max([len("class"), len("mean"), *(len(r[0]) for r in rows)])
    lines = [f"{'class':<{width}}  {'dice':>6}  {f'nsd@{result.tolerance_mm:g}mm':>9}  {'n':>4}"]
    lines += [f"{name:<{width}}  {d:6.4f}  {s:9.4f}  {n:4d}" for name, d, s, n in rows]
    mean = result.mean()
    lines.append(f"{'mean':<{width}}  {mean['dice']:6.4f}  {mean['nsd']:9.4f}  {len(result.per_case):4d}")
    return "\n".join(lines)


def write_metrics(result: EvaluationResult, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``path`` (JSON: per case, per class, mean; NaN as null) and a long CSV beside it."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    doc = {"tolerance_mm": result.tolerance_mm, "mean": result.mean(), "per_class": result.per_class(),
           "per_case": result.per_case}
    atomic_write_text(path, json.dumps(_nan_to_none(doc), indent=2))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["case", "class", "dice", "nsd"])
    for case, scores in result.per_case.items():
        for name, m in scores.items():
            writer.writerow([case, name, *("" if math.isnan(m[k]) else f"{m[k]:.6f}" for k in METRICS)])
    csv_path = path.with_suffix(".csv")
    atomic_write_text(csv_path, buffer.getvalue())
    return path, csv_path


def _nan_to_none(value):
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
