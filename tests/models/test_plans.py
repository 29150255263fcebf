"""What plans.json and dataset.json may say: every value that changes nnU-Net's result is either
reproduced or refused with the field and value named."""

import copy
import json
import shutil

import pytest
import torch

from totalseg.errors import WeightsError
from totalseg.models.model import Model, available_folds, load_model
from totalseg.models.plans import ModelConfig, Resampling
from totalseg.models.synthetic import TINY, dataset_json, legacy_plans, write_random_model
from totalseg.models.tasks import get_task

SPEC = get_task("total", "fast").models[0]
PLANS = legacy_plans(SPEC, TINY, modality="ct")
DATASET = dataset_json(SPEC, modality="ct")


def parse(plans=None, dataset=None, **kwargs) -> ModelConfig:
    return ModelConfig.from_dicts(plans or copy.deepcopy(PLANS), dataset or copy.deepcopy(DATASET), **kwargs)


def with_conf(**fields) -> dict:
    plans = copy.deepcopy(PLANS)
    plans["configurations"]["3d_fullres"].update(fields)
    return plans


def test_a_missing_transpose_backward_is_the_inverse_of_transpose_forward():
    plans = copy.deepcopy(PLANS)
    plans["transpose_forward"] = [2, 0, 1]
    del plans["transpose_backward"]
    assert parse(plans).transpose_backward == (1, 2, 0)  # what nnU-Net's planner writes, not [2, 0, 1]


@pytest.mark.parametrize("forward, backward, match", [
    ([2, 0, 1], [2, 0, 1], "does not undo transpose_forward"),
    ([0, 0, 1], [0, 1, 2], "not a permutation"),
])
def test_inconsistent_transposes_are_refused(forward, backward, match):
    plans = copy.deepcopy(PLANS)
    plans["transpose_forward"], plans["transpose_backward"] = forward, backward
    with pytest.raises(WeightsError, match=match):
        parse(plans)


def test_resampling_functions_and_their_arguments_are_read():
    config = parse(with_conf(resampling_fn_data_kwargs={"is_seg": False, "order": 3, "order_z": 0,
                                                        "force_separate_z": None,
                                                        "separate_z_anisotropy_threshold": 2.5}))
    assert config.data_resampling == Resampling(order=3, order_z=0, force_separate_z=None, anisotropy_threshold=2.5)
    assert config.logits_resampling == Resampling(order=1, order_z=0, force_separate_z=None)
    assert parse(with_conf(resampling_fn_data="no_resampling_hack")).data_resampling.function == "no_resampling_hack"


@pytest.mark.parametrize("fields, match", [
    ({"resampling_fn_data": "resample_torch_fornnunet"}, "resampling_fn_data 'resample_torch_fornnunet' is not supp"),
    ({"resampling_fn_probabilities_kwargs": {"order": 1, "antialias": True}}, "unknown keys"),
    ({"resampling_fn_data_kwargs": {"is_seg": True}}, "is_seg True: images and logits are resampled as images"),
    ({"resampling_fn_seg_kwargs": {"is_seg": False}}, "resampling_fn_seg_kwargs has is_seg False"),
    ({"normalization_schemes": ["RGBTo01Normalization"]}, "normalization 'RGBTo01Normalization' is not supported"),
    ({"preprocessor_name": "MyPreprocessor"}, "preprocessor_name 'MyPreprocessor' is not supported"),
    ({"patch_size": [64, 64]}, "not 3-D"),
])
def test_values_we_do_not_reproduce_are_refused(fields, match):
    with pytest.raises(WeightsError, match=match):
        parse(with_conf(**fields))


def test_a_custom_label_manager_is_refused():
    plans = copy.deepcopy(PLANS)
    plans["label_manager"] = "MyLabelManager"
    with pytest.raises(WeightsError, match="label_manager 'MyLabelManager' is not supported"):
        parse(plans)


def test_labels_are_output_channels_as_nnunet_orders_them():
    dataset = {"channel_names": {"0": "CT"}, "file_ending": ".nii.gz",
               "labels": {"background": 0, "tumor": 2, "cyst": 1, "ignore": 3}}
    assert parse(dataset=dataset).labels == {0: "background", 1: "cyst", 2: "tumor"}  # no head for "ignore"


def test_region_based_and_multi_channel_models_are_refused():
    regions = {**DATASET, "labels": {"background": 0, "whole": [1, 2], "core": 2}, "regions_class_order": [1, 2]}
    with pytest.raises(WeightsError, match="region-based labels"):
        parse(dataset=regions)
    with pytest.raises(WeightsError, match="2 input channels"):
        parse(dataset={**DATASET, "channel_names": {"0": "T1", "1": "T2"}})


def test_the_configuration_comes_from_the_checkpoint_then_the_folder_name(tmp_path):
    folder = write_random_model(tmp_path, SPEC, layout=TINY)
    plans = json.loads((folder / "plans.json").read_text())
    plans["configurations"]["3d_lowres"] = {"inherits_from": "3d_fullres", "spacing": [6.0, 6.0, 6.0]}
    (folder / "plans.json").write_text(json.dumps(plans))
    assert ModelConfig.from_folder(folder).configuration == "3d_fullres"
    lowres = folder.parent / folder.name.replace("3d_fullres", "3d_lowres")
    shutil.copytree(folder, lowres)
    assert ModelConfig.from_folder(lowres).spacing == (6.0, 6.0, 6.0)
    # the checkpoint says 3d_fullres (nnU-Net reads it there), whatever the folder is called
    assert Model.from_folder(lowres).config.configuration == "3d_fullres"


def test_every_fold_present_in_nnunets_order(tmp_path):
    folder = write_random_model(tmp_path, SPEC, layout=TINY, seed=1)
    for fold in ("1", "10", "2", "all"):
        shutil.copytree(folder / "fold_0", folder / f"fold_{fold}")
    (folder / "fold_3").mkdir()  # no checkpoint: not a fold
    assert available_folds(folder) == ["0", "1", "10", "2"]  # sorted names, fold_all only when asked
    model = load_model(folder, folds=None, cache=False)
    assert model.num_folds == 4 and len(list(model.each_fold())) == 4
    assert load_model(folder, folds=["all"], cache=False).num_folds == 1
    with pytest.raises(WeightsError, match="fold_7"):
        load_model(folder, folds=["7"], cache=False)


def test_each_fold_loads_its_own_weights(tmp_path):
    one = write_random_model(tmp_path / "a", SPEC, layout=TINY, seed=1)
    two = write_random_model(tmp_path / "b", SPEC, layout=TINY, seed=2)
    shutil.copytree(two / "fold_0", one / "fold_1")
    model = Model.from_folder(one, folds=["1", "0"])
    first = {k: v.clone() for k, v in next(model.each_fold()).state_dict().items()}
    expected = Model.from_folder(two).network.state_dict()
    assert all(torch.equal(first[k], expected[k]) for k in expected)
