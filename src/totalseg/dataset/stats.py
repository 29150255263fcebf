"""The label table of the dataset cards: per class, how many subjects have it and its mean volume.

Columns ``label, name, cases, coverage_percent, volume_cm3``: ``cases`` counts subjects whose mask
has a non-empty voxel; ``coverage_percent = cases / subjects * 100`` (2 decimals) over the subjects
that could be read; ``volume_cm3`` is the mean mask volume over those cases, from voxel counts and the
image's voxel size (NaN when there is no case).
"""

from __future__ import annotations

import math

import numpy as np

from totalseg.dataset.scan import ScanResult

STATS_COLUMNS = ("label", "name", "cases", "coverage_percent", "volume_cm3")


def label_stats(scan: ScanResult) -> dict[str, list]:
    """The label table as ``{column: values}`` in label order.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from totalseg.dataset.layout import open_dataset
        >>> from totalseg.dataset.scan import scan_dataset
        >>> from totalseg.dataset.synthetic import write_mock_dataset
        >>> index = open_dataset(write_mock_dataset(Path(tempfile.mkdtemp()), n_subjects=2, shape=(8, 8, 6)))
        >>> table = label_stats(scan_dataset(index, workers=1, progress=False))
        >>> list(table), len(table["name"])
        (['label', 'name', 'cases', 'coverage_percent', 'volume_cm3'], 117)
    """
    n_subjects = len(scan.scans)
    if n_subjects:
        voxels = np.stack([s.counts.sum(axis=1, dtype=np.int64) for s in scan.scans.values()], axis=1)
        voxel_ml = np.array([float(np.prod(s.spacing_mm)) / 1000.0 for s in scan.scans.values()])
    else:
        voxels, voxel_ml = np.zeros((len(scan.classes), 0), np.int64), np.zeros(0)
    table: dict[str, list] = {name: [] for name in STATS_COLUMNS}
    for row, (label, name) in enumerate(scan.classes.items()):
        present = voxels[row] > 0
        cases = int(present.sum())
        table["label"].append(label)
        table["name"].append(name)
        table["cases"].append(cases)
        table["coverage_percent"].append(round(cases / n_subjects * 100, 2) if n_subjects else math.nan)
        volume = float((voxels[row][present] * voxel_ml[present]).mean()) if cases else math.nan
        table["volume_cm3"].append(round(volume, 2) if cases else math.nan)
    return table
