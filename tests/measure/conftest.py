"""Weights folders holding copies of the official classifier files (no network needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from totalseg.measure.classifier_files import FOLDER, MODALITY_FILES, NORMALIZED_MODALITY_FILES, PHASE_FILE
from totalseg.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "phase_golden"


def add_classifiers(weights_dir: Path) -> None:
    folder = weights_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for file in (PHASE_FILE, *MODALITY_FILES, *NORMALIZED_MODALITY_FILES):
        shutil.copyfile(GOLDEN / file.name, folder / file.name)


@pytest.fixture
def classifier_settings(tmp_path) -> Settings:
    """An otherwise empty weights folder with the official classifier files in place."""
    weights = tmp_path / "weights"
    add_classifiers(weights)
    return Settings(home_dir=tmp_path, weights_dir=weights)


@pytest.fixture
def model_settings(tmp_path, tiny_weights) -> Settings:
    """The tiny seeded models (linked, not copied) plus the classifier files."""
    weights = tmp_path / "weights"
    weights.mkdir()
    for folder in tiny_weights.iterdir():
        (weights / folder.name).symlink_to(folder, target_is_directory=folder.is_dir())
    add_classifiers(weights)
    return Settings(home_dir=tmp_path, weights_dir=weights)
