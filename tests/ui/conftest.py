"""Fixtures for the web app: an app factory for AppTest and a segmented phantom case with known answers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from totalseg.anatomy.class_maps import class_map  # noqa: E402
from totalseg.imaging.volume import LabelVolume, Volume  # noqa: E402
from totalseg.ui.case import Case, RunChoice  # noqa: E402

SPACING_MM = 5.0
LIVER_BOX = (slice(4, 24), slice(6, 26), slice(6, 30))  # 9600 voxels of 125 mm3 = 1200 mL
SPLEEN_BOX = (slice(30, 38), slice(10, 20), slice(10, 20))  # 800 voxels = 100 mL
LIVER_HU, SPLEEN_HU, BODY_HU = 60, 50, 20


def _app(weights: str, data_dir: str | None, download: bool) -> None:
    from pathlib import Path

    from totalseg.settings import Settings
    from totalseg.ui.config import AppConfig
    from totalseg.ui.main import run_app

    settings = Settings(home_dir=Path(weights).parent, weights_dir=Path(weights))
    run_app(AppConfig(settings=settings, data_dir=Path(data_dir) if data_dir else None, download=download))


@pytest.fixture
def make_app(tiny_weights):
    """``make_app(weights=..., data_dir=..., case=...)`` -> an AppTest that has run once."""

    def make(*, weights: Path | None = None, data_dir: Path | None = None, case: Case | None = None,
             page: str | None = None) -> AppTest:
        at = AppTest.from_function(_app, args=(str(weights or tiny_weights), str(data_dir) if data_dir else None,
                                               False), default_timeout=60)
        if case is not None:
            at.session_state["case"] = case
        at.run()
        if page is not None:
            at.sidebar.radio(key="page").set_value(page).run()
        return at

    return make


@pytest.fixture(scope="session")
def phantom() -> SimpleNamespace:
    """Where the phantom's structures are and their intensities (the known answers)."""
    return SimpleNamespace(liver_box=LIVER_BOX, spleen_box=SPLEEN_BOX, liver_hu=LIVER_HU, spleen_hu=SPLEEN_HU)


@pytest.fixture(scope="session")
def phantom_case(tmp_path_factory) -> Case:
    """A 48 x 40 x 36 CT of 5 mm voxels: a 1200 mL liver at 60 HU, a 100 mL spleen at 50 HU."""
    shape = (48, 40, 36)
    image = np.full(shape, -1000, np.int16)
    image[2:46, 2:38, 2:34] = BODY_HU
    labels = np.zeros(shape, np.uint8)
    image[LIVER_BOX], labels[LIVER_BOX] = LIVER_HU, 5
    image[SPLEEN_BOX], labels[SPLEEN_BOX] = SPLEEN_HU, 1
    affine = np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0])
    vol = Volume(image, affine=affine)
    path = tmp_path_factory.mktemp("phantom") / "phantom.nii.gz"
    import nibabel as nib

    nib.save(vol.to_nifti(), path)
    return Case(name="phantom.nii.gz", path=path, image=vol, labels=LabelVolume(labels, affine=affine),
                classes=class_map("total"), choice=RunChoice(task="total", mode="fast"), seconds=1.0)
