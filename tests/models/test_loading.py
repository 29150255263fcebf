import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from totalseg.errors import InputError, WeightsError
from totalseg.models.checkpoint import load_checkpoint
from totalseg.models.custom import custom_task, find_model_folder
from totalseg.models.model import Model, load_model
from totalseg.models.network import build_network, load_weights
from totalseg.models.plans import ModelConfig
from totalseg.models.synthetic import TINY, write_random_model
from totalseg.models.tasks import get_task


@pytest.fixture()
def model_folder(tmp_path) -> Path:
    return write_random_model(tmp_path, get_task("total", "fast").models[0], layout=TINY)


def new_format(plans: dict) -> dict:
    """The same model in nnU-Net >= 2.4's `architecture` format."""
    conf = plans["configurations"]["3d_fullres"]
    n = len(conf["n_conv_per_stage_encoder"])
    conf["architecture"] = {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": n,
            "features_per_stage": [min(conf["UNet_base_num_features"] * 2**i, conf["unet_max_num_features"])
                                   for i in range(n)],
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": conf["conv_kernel_sizes"], "strides": conf["pool_op_kernel_sizes"],
            "n_conv_per_stage": conf["n_conv_per_stage_encoder"],
            "n_conv_per_stage_decoder": conf["n_conv_per_stage_decoder"], "conv_bias": True,
            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None, "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }
    for key in ("UNet_class_name", "UNet_base_num_features", "n_conv_per_stage_encoder", "n_conv_per_stage_decoder",
                "num_pool_per_axis", "pool_op_kernel_sizes", "conv_kernel_sizes", "unet_max_num_features"):
        del conf[key]
    return plans


def test_legacy_and_new_plans_build_the_same_network(model_folder):
    plans = json.loads((model_folder / "plans.json").read_text())
    dataset = json.loads((model_folder / "dataset.json").read_text())
    legacy = ModelConfig.from_dicts(plans, dataset)
    modern = ModelConfig.from_dicts(new_format(plans), dataset)
    assert legacy.arch_kwargs == modern.arch_kwargs and legacy.network_class == modern.network_class
    weights = load_checkpoint(model_folder / "fold_0" / "checkpoint_final.pth")["network_weights"]
    nets = [build_network(c) for c in (legacy, modern)]
    for net in nets:
        load_weights(net, weights)
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert torch.equal(nets[0](x), nets[1](x))


def test_model_loads_and_is_cached(model_folder):
    model = Model.from_folder(model_folder)
    assert model.config.num_outputs == 118 and model.config.patch_size == (32, 32, 32)
    assert load_model(model_folder) is load_model(model_folder)


def test_loaded_network_equals_a_normally_built_one(model_folder):
    model = Model.from_folder(model_folder)
    built = build_network(model.config)
    load_weights(built, load_checkpoint(model_folder / "fold_0" / "checkpoint_final.pth")["network_weights"])
    ours, theirs = dict(model.network.named_parameters()), dict(built.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, param in ours.items():
        assert param.device.type == "cpu" and param.requires_grad == theirs[name].requires_grad
        assert torch.equal(param, theirs[name]), name
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.network(x), built.eval()(x))


def test_loading_a_model_does_not_import_sympy(model_folder):
    # Costs 0.5 s of every run's start-up; nn.Module.to_empty pulled it in (see models/model.py).
    code = f"import sys; from totalseg.models.model import Model; Model.from_folder({str(model_folder)!r}); " \
           "print('sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_tampered_checkpoint_is_refused_without_running_code(tmp_path, model_folder):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    ckpt = model_folder / "fold_0" / "checkpoint_final.pth"
    data = torch.load(ckpt, weights_only=False)
    data["logging"]["evil"] = Payload()
    torch.save(data, ckpt)
    with pytest.raises(WeightsError, match="refused to load"):
        load_checkpoint(ckpt)
    assert not marker.exists()


def test_weights_that_do_not_fit_give_a_clear_error(model_folder):
    ckpt = model_folder / "fold_0" / "checkpoint_final.pth"
    data = torch.load(ckpt, weights_only=False)
    key = next(k for k in data["network_weights"] if k.endswith("seg_layers.0.weight"))
    data["network_weights"][key] = torch.zeros(3, 3)
    data["network_weights"].pop(next(iter(data["network_weights"])))
    torch.save(data, ckpt)
    with pytest.raises(WeightsError, match="do not fit.*missing.*wrong shape"):
        Model.from_folder(model_folder)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_broken_checkpoint(tmp_path, content):
    path = tmp_path / "checkpoint_final.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_unknown_network_class_refused(model_folder):
    plans = json.loads((model_folder / "plans.json").read_text())
    plans["configurations"]["3d_fullres"]["UNet_class_name"] = "os.system"
    (model_folder / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(WeightsError, match="not supported"):
        ModelConfig.from_folder(model_folder)


def test_custom_model_folder_task(model_folder):
    assert find_model_folder(model_folder.parent) == model_folder
    task = custom_task(model_folder.parent)
    assert len(task.classes) == 117 and task.modality == "ct"
    # nnUNetv2_predict semantics: nnU-Net resamples, the input is not reoriented, every fold, step 0.5
    assert task.spacing_mm is None and not task.canonical and task.step_size == 0.5
    assert task.models[0].folds is None
    chosen = custom_task(model_folder.parent, folds=[0, "all"], step_size=0.8)
    assert chosen.models[0].folds == ("0", "all") and chosen.step_size == 0.8
    with pytest.raises(InputError, match="step_size must be in"):
        custom_task(model_folder.parent, step_size=1.5)
    with pytest.raises(Exception, match="no nnU-Net model folder"):
        find_model_folder(model_folder / "fold_0")
