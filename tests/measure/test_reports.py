"""--statistics / --clinical / --preview through `totalseg segment` and `segment()` with tiny seeded weights."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

import totalseg
from totalseg.cli import main
from totalseg.errors import InputError
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.measure.reports import MeasureOptions
from totalseg.measure.statistics import compute_statistics
from totalseg.models.tasks import get_task


@pytest.fixture()
def env(tiny_weights, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tiny_weights.parent))
    return tiny_weights


@pytest.fixture(scope="module")
def small_ct(ct_small_path, tmp_path_factory):
    """The central 64 x 64 x 30 voxels of the shared CT (3 mm, RAS): few tiles for the tiny models."""
    img = nib.load(ct_small_path)
    path = tmp_path_factory.mktemp("input") / "ct_64.nii.gz"
    nib.save(img.slicer[29:93, 18:82, :], path)
    return path


@pytest.fixture(scope="module")
def anisotropic_ct(small_ct, tmp_path_factory):
    """The same voxels relabelled 2.0 x 2.0 x 3.5 mm: the 3 mm model grid differs from the input grid."""
    img = nib.load(small_ct)
    path = tmp_path_factory.mktemp("input") / "ct_aniso.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), np.diag([2.0, 2.0, 3.5, 1.0])), path)
    return path


def test_cli_writes_all_three_reports_beside_the_multilabel_file(env, small_ct, tmp_path):
    ml = tmp_path / "seg.nii.gz"
    assert main(["segment", "-i", str(small_ct), "-o", str(ml), "--fast", "--ml", "--statistics", "--clinical",
                 "--preview", "-q", "-d", "cpu"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinical.json", "preview_total.png", "seg.nii.gz",
                                                          "statistics.json"]
    # A 3 mm RAS input: the model grid is the input grid, so the file equals the statistics of the output.
    img = nib.load(small_ct)
    labels = np.asanyarray(nib.load(ml).dataobj)
    expected = compute_statistics(Volume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header),
                                  LabelVolume(labels, affine=img.affine), get_task("total").classes)
    assert (tmp_path / "statistics.json").read_text() == json.dumps(expected, indent=4)
    clinical = json.loads((tmp_path / "clinical.json").read_text())
    assert set(clinical) == {"contrast_phase", "measurements", "disclaimer"}
    assert {m["status"] for m in clinical["measurements"].values()} <= {"measured", "not measurable"}
    with Image.open(tmp_path / "preview_total.png") as png:
        assert png.format == "PNG" and png.width == 3 * 400 + 4 * 8  # 192 x 192 x 90 mm: x and y span 400 px


def test_fast_statistics_on_the_3mm_model_grid(env, anisotropic_ct, tmp_path):
    """With --fast every volume is a whole number of 27 mm3 model voxels; without, of 14 mm3 input voxels."""
    fast = tmp_path / "fast"
    totalseg.segment(anisotropic_ct, fast / "seg.nii.gz", ml=True, fast=True, quiet=True, device="cpu", statistics=True,
                     statistics_include_incomplete=True, statistics_extra=True)
    stats = json.loads((fast / "statistics.json").read_text())
    assert list(stats) == list(get_task("total").classes.values())
    volumes = [v["volume"] for v in stats.values() if v["volume"] > 0]
    assert len(volumes) > 5
    assert all(v == v // 27 * 27 for v in volumes)
    assert all(v["volume"] == v["n_voxels"] * 27.0 for v in stats.values())
    slow = tmp_path / "fastest"
    totalseg.segment(anisotropic_ct, slow / "seg.nii.gz", ml=True, fastest=True, quiet=True, device="cpu",
                     statistics=True, statistics_include_incomplete=True)
    volumes = [v["volume"] for v in json.loads((slow / "statistics.json").read_text()).values() if v["volume"] > 0]
    assert volumes and all(round(v / 14.0) * 14.0 == v for v in volumes)


def test_statistics_path_and_median(env, small_ct, tmp_path):
    target = tmp_path / "reports" / "stats.json"
    assert main(["segment", "-i", str(small_ct), "-o", str(tmp_path / "seg.nii.gz"), "--ml", "--fast", "-q",
                 "-d", "cpu", "--statistics", str(target), "-sa", "median", "-sii"]) == 0
    stats = json.loads(target.read_text())
    assert not (tmp_path / "statistics.json").exists()
    assert any(v["volume"] > 0 for v in stats.values())


def test_bad_requests(env, ct_small_path, tmp_path, capsys):
    with pytest.raises(InputError, match="needs an output folder"):
        totalseg.segment(ct_small_path, None, fast=True, quiet=True, device="cpu", clinical=True)
    with pytest.raises(InputError, match="aggregation must be one of mean, median"):
        MeasureOptions(statistics=True, aggregation="max").targets(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["segment", "-i", str(ct_small_path), "-o", str(tmp_path / "o"), "--statistics", "-sa", "max"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_targets():
    folder = MeasureOptions(statistics=True, clinical=True, preview=True).targets(Path("out"))
    assert {k: v.name for k, v in folder.items()} == {"statistics": "statistics.json", "clinical": "clinical.json",
                                                     "preview": "preview_total.png"}
    assert MeasureOptions().targets(None) == {}
    custom = MeasureOptions(statistics="elsewhere/s.json").targets(None)
    assert custom["statistics"].is_absolute() and custom["statistics"].name == "s.json"
