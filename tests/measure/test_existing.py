"""measure.existing: which task an existing segmentation belongs to, the grid check, known answers."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from totalseg.errors import InputError
from totalseg.imaging.volume import Volume
from totalseg.io.nifti_ext import add_label_map_to_nifti
from totalseg.measure.existing import check_same_grid, load_segmentation, measure_segmentation

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def save(folder, name, array, affine=AFFINE, names=None):
    img = nib.Nifti1Image(array.astype(np.uint8), affine)
    nib.save(add_label_map_to_nifti(img, names) if names else img, folder / name)
    return folder / name


def test_a_folder_of_body_masks_is_the_body_task_even_with_its_derived_masks(tmp_path):
    mask = np.zeros((6, 6, 6), np.uint8)
    mask[2:4, 2:4, 2:4] = 1
    for name in ("body_trunc", "body_extremities", "body", "skin"):
        save(tmp_path, f"{name}.nii.gz", mask if name == "body_extremities" else 0 * mask)
    labels, classes, task = load_segmentation(tmp_path)
    assert task == "body" and classes == {1: "body_trunc", 2: "body_extremities"}
    assert np.count_nonzero(np.asarray(labels.array) == 2) == 8


def test_the_label_names_of_the_file_win_over_the_task_map(tmp_path):
    array = np.zeros((6, 6, 6))
    array[1:3, 1:3, 1:3] = 7
    path = save(tmp_path, "seg.nii.gz", array, names={7: "my_liver"})
    assert load_segmentation(path, task="total")[1] == {7: "my_liver"}


def test_label_ids_beyond_the_class_map_are_refused(tmp_path):
    array = np.zeros((6, 6, 6))
    array[1, 1, 1] = 5
    path = save(tmp_path, "seg.nii.gz", array)
    with pytest.raises(InputError, match=r"label ids \[5\] are not in the class map of trunk_cavities.*--task"):
        load_segmentation(path, task="trunk_cavities")


def test_missing_path_and_unknown_task(tmp_path):
    with pytest.raises(InputError, match="no such segmentation"):
        load_segmentation(tmp_path / "nope.nii.gz")
    save(tmp_path, "liver.nii.gz", np.zeros((4, 4, 4)))
    with pytest.raises(InputError, match="unknown task 'tota'"):
        load_segmentation(tmp_path, task="tota")


def test_masks_of_two_tasks_mixed_are_refused(tmp_path):
    for name in ("liver", "body_trunc"):
        save(tmp_path, f"{name}.nii.gz", np.zeros((4, 4, 4)))
    with pytest.raises(InputError, match="not the classes of one task"):
        load_segmentation(tmp_path)


def test_grid_check_names_both_affines():
    image = Volume(np.zeros((4, 4, 4)), affine=AFFINE)
    shifted = AFFINE.copy()
    shifted[0, 3] = 1.0
    check_same_grid(image, Volume(np.zeros((4, 4, 4)), affine=AFFINE + 1e-5), "s")  # float noise passes
    with pytest.raises(InputError, match=r"affine \[2 0 0 1;.*affine \[2 0 0 0;"):
        check_same_grid(image, Volume(np.zeros((4, 4, 4)), affine=shifted), "seg.nii.gz")


def test_known_volume_and_intensity_on_the_input_grid(tmp_path):
    ct = np.full((10, 10, 10), -5.5)
    ct[4:6, 4:6, 4:6] = 30.9  # truncated to 30 as the official int16 cast
    nib.save(nib.Nifti1Image(ct, AFFINE), tmp_path / "ct.nii.gz")
    mask = np.zeros((10, 10, 10))
    mask[4:6, 4:6, 4:7] = 1  # 8 voxels at 30, 4 at -5
    folder = tmp_path / "seg"
    folder.mkdir()
    save(folder, "abdominal_cavity.nii.gz", mask)
    written = measure_segmentation(tmp_path / "ct.nii.gz", folder, tmp_path / "out", statistics_extra=True)
    stats = json.loads(written["statistics"].read_text())
    assert list(stats) == ["abdominal_cavity", "thoracic_cavity", "pericardium", "mediastinum"]
    assert stats["abdominal_cavity"]["volume"] == 96.0 and stats["abdominal_cavity"]["intensity"] == 18.33333
    assert stats["abdominal_cavity"]["n_voxels"] == 12


def test_nothing_asked_is_refused(tmp_path):
    save(tmp_path, "liver.nii.gz", np.zeros((4, 4, 4)))
    with pytest.raises(InputError, match="nothing to measure"):
        measure_segmentation(Volume(np.zeros((4, 4, 4)), affine=AFFINE), tmp_path, tmp_path / "o", statistics=False)
