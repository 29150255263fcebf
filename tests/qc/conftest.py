"""A clean trunk phantom shared by the QC tests (5 mm voxels, fixed seed)."""

from __future__ import annotations

import numpy as np
import pytest

from totalseg.qc import run_qc
from totalseg.qc.phantom import make_trunk_phantom


@pytest.fixture(scope="session")
def clean():
    """(image, labels, classes) of a clean phantom."""
    return make_trunk_phantom(np.random.default_rng(7), spacing_mm=5.0)


@pytest.fixture(scope="session")
def clean_report(clean):
    return run_qc(*clean)


@pytest.fixture(scope="session")
def faulted(clean):
    """``faulted(fault, seed=0)``: the QC report of the clean phantom with ``fault`` injected."""
    def inject(fault, seed: int = 0):
        image, labels, classes = clean
        image, labels = fault(image, labels, classes, np.random.default_rng(seed))
        return run_qc(image, labels, classes)
    return inject
