"""A mock dataset in the exact Zenodo layout, written once per session; tests that damage it get a copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.dataset.synthetic import write_mock_dataset

N_SUBJECTS = 10


@pytest.fixture(scope="session")
def mock_root(tmp_path_factory) -> Path:
    """10 CT subjects (7 train, 1 val, 2 test), 117 masks each, oblique affines, 12-15 slices."""
    return write_mock_dataset(tmp_path_factory.mktemp("ds") / "data", n_subjects=N_SUBJECTS, shape=(20, 16, 12),
                              oblique=True, seed=1)


@pytest.fixture
def mock_copy(mock_root, tmp_path) -> Path:
    return Path(shutil.copytree(mock_root, tmp_path / "data", ignore=shutil.ignore_patterns(".totalseg-cache")))


@pytest.fixture(scope="session")
def reference_masks():
    """A function reading a subject's masks with nibabel (the independent reference)."""
    return _reference_masks


def _reference_masks(root: Path, subject: str, names) -> dict[str, np.ndarray | None]:
    """Each mask as nibabel reads it (the independent reference), None where the file is missing."""
    out = {}
    for name in names:
        path = root / subject / "segmentations" / f"{name}.nii.gz"
        out[name] = np.asanyarray(nib.load(path).dataobj) if path.exists() else None
    return out
