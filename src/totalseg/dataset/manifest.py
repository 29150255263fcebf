"""The slice-classification manifest: every ``every``-th slice of each image is one sample whose target
is the multi-hot vector of the classes with any positive voxel in that slice.

Columns: ``path`` (image path relative to the dataset root, e.g. ``s0011/ct.nii.gz``), ``slice``
(index along the image's third voxel axis as stored), ``split``, then one 0/1 column per class in
label order. Rows are in subject order, then slice order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.dataset.layout import DatasetIndex
from totalseg.dataset.scan import ScanResult, scan_dataset
from totalseg.dataset.splits import assign_split
from totalseg.dataset.tables import table_format, write_table
from totalseg.errors import InputError

FIXED_COLUMNS = ("path", "slice", "split")


@dataclass(frozen=True)
class ManifestReport:
    """What :func:`write_manifest` wrote and what it left out."""

    path: Path
    rows: int
    subjects: int
    scan: ScanResult


def manifest_columns(
    index: DatasetIndex, scan: ScanResult, splits: dict[str, str], *, every: int = 25, offset: int = 0
) -> dict[str, object]:
    """The manifest as ``{column: values}`` from a scan (pure: no file is read).

    Examples:
        >>> import tempfile
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> index = open_dataset(write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=1, shape=(8, 8, 6)))
        >>> scan = scan_dataset(index, workers=1, progress=False)
        >>> cols = manifest_columns(index, scan, {"s0000": "train"}, every=4)
        >>> cols["path"], cols["slice"]
        (['s0000/ct.nii.gz', 's0000/ct.nii.gz'], [0, 4])
    """
    if every < 1 or offset < 0:
        raise InputError(f"--every must be >= 1 and --offset >= 0, got every={every}, offset={offset}")
    paths, slices, split_values, targets = [], [], [], []
    for sid, subject_scan in scan.scans.items():
        picked = np.arange(offset, subject_scan.shape[2], every)
        paths += [index.relative_image_path(sid)] * len(picked)
        slices += picked.tolist()
        split_values += [splits.get(sid, "")] * len(picked)
        targets.append((subject_scan.counts[:, picked] > 0).T.astype(np.uint8))
    matrix = np.concatenate(targets) if targets else np.zeros((0, len(scan.classes)), np.uint8)
    columns: dict[str, object] = {"path": paths, "slice": slices, "split": split_values}
    for col, name in enumerate(scan.classes.values()):
        columns[name] = matrix[:, col]
    return columns


def write_manifest(
    index: DatasetIndex,
    out: str | os.PathLike,
    *,
    every: int = 25,
    offset: int = 0,
    split: str = "ratio",
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> ManifestReport:
    """Scan the dataset (reusing cached scans) and write the manifest to ``out`` (``.csv`` or ``.parquet``).

    Args:
        index: the dataset.
        out: output table; the format follows the extension.
        every: take slices ``offset, offset + every, ...`` of each image.
        offset: first slice.
        split: ``ratio`` (60/20/20 by filename order, over all subjects) or ``official`` (meta.csv).
        cache_dir: scan cache, which makes the pass resumable; ``None``: no cache.
        workers: processes.
        progress: show a progress bar.

    Returns:
        A :class:`ManifestReport`; subjects that could not be read are in ``report.scan.skipped``.

    Examples:
        >>> write_manifest(index, "manifest.parquet", every=25)  # doctest: +SKIP
    """
    table_format(out)  # refuse a bad extension before the long pass
    splits = assign_split(index, split)
    scan = scan_dataset(index, cache_dir=cache_dir, workers=workers, progress=progress)
    columns = manifest_columns(index, scan, splits, every=every, offset=offset)
    path = write_table(columns, out)
    return ManifestReport(path, len(columns["path"]), len(scan.scans), scan)  # type: ignore[arg-type]
