"""Shared fixtures: the real CT from tests/data, synthetic volumes and seeded random weights."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.imaging.volume import Volume
from totalseg.models.synthetic import write_random_weights
from totalseg.models.tasks import all_models
from totalseg.settings import Settings

TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ct_small_path() -> Path:
    """The real 122x101x30 CT at 3 mm (see tests/data/README.md)."""
    return TEST_DATA / "ct_small_3mm.nii.gz"


@pytest.fixture(scope="session")
def ct_small(ct_small_path) -> Volume:
    img = nib.load(ct_small_path)
    return Volume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder in the official layout with tiny seeded random models for every task."""
    root = tmp_path_factory.mktemp("weights")
    write_random_weights(root, sorted(all_models()), tiny=True, seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_settings(tiny_weights) -> Settings:
    return Settings(home_dir=tiny_weights.parent, weights_dir=tiny_weights)


@pytest.fixture(scope="session")
def make_phantom():
    """A function returning a CT-like int16 phantom of a given shape."""
    return phantom


def phantom(shape=(40, 36, 24), seed=0) -> np.ndarray:
    """A CT-like int16 phantom: air outside, soft tissue body, a few brighter and darker blobs."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    body = (grid[0] ** 2 + grid[1] ** 2) < 0.7
    img = np.where(body, 40, -1000).astype(np.float64)
    for _ in range(4):
        c = rng.uniform(-0.5, 0.5, 3)
        blob = ((grid - c[:, None, None, None]) ** 2).sum(0) < rng.uniform(0.02, 0.08)
        img[blob & body] = rng.choice([-600, 300, 900])
    img += rng.normal(0, 10, shape)
    return img.astype(np.int16)
