"""The official body-statistics networks: PyTorch Lightning checkpoints of five folds, built from
their own hyper-parameters, as ``totalsegmentator/cnn.py`` of TotalSegmentator 2.18.0 loads them.

Layout (the official one, under the weights folder)::

    lightning_models/ct_all_ext_splitOrig_noise_can1_huber/version_<fold>/checkpoints/epoch*.ckpt

(``last.ckpt`` where no ``epoch*.ckpt`` is present; ``mr_...`` for MR). The licence server hands the
folder out as a zip to a stored licence key (task ``body_stats_ct`` / ``body_stats_mr``), as the
official tool fetches it. The network is named by ``hparams["model"]``: ``resnet3d_*`` are MONAI's
3-D ResNets (``pip install monai``) with a linear or multi-head output, anything else a timm model
(``pip install timm``; ``tf_efficientnet_b0_ns`` is the default).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from totalseg.errors import DownloadError, WeightsError
from totalseg.models.checkpoint import load_safely

ROOT_FOLDER = "lightning_models"
MODEL_FOLDERS = {"ct": "ct_all_ext_splitOrig_noise_can1_huber", "mr": "mr_all_ext_splitOrig_noise_can1_huber"}
LICENSE_TASKS = {"ct": "body_stats_ct", "mr": "body_stats_mr"}
FOLDS = tuple(range(5))
DEFAULT_TARGETS = ("PatientWeight", "PatientSize", "PatientAge", "PatientSex_01")
# name: (MONAI constructor, feature width, shortcut type, bias in downsampling, widen factor, multi-head)
RESNET3D = {
    "resnet3d_10": ("resnet10", 512, "B", False, 1.0, False),
    "resnet3d_10_w05": ("resnet10", 256, "B", False, 0.5, False),
    "resnet3d_10_multihead": ("resnet10", 512, "B", False, 1.0, True),
    "resnet3d_18": ("resnet18", 512, "A", True, 1.0, False),
    "resnet3d_50": ("resnet50", 2048, "B", False, 1.0, False),
}


def model_dir(weights_dir: Path, modality: str) -> Path:
    """Where the official tool keeps the model of ``modality`` (``ct`` or ``mr``).

    Examples:
        >>> model_dir(Path("w"), "ct").as_posix()
        'w/lightning_models/ct_all_ext_splitOrig_noise_can1_huber'
    """
    if modality not in MODEL_FOLDERS:
        raise ValueError(f"modality {modality!r}: expected ct or mr")
    return Path(weights_dir) / ROOT_FOLDER / MODEL_FOLDERS[modality]


def ensure_model(weights_dir: Path, modality: str, *, download: bool = True, access: Any = None,
                 progress: bool = False) -> Path:
    """The model folder of ``modality``, fetched from the licence server first when missing.

    Raises:
        WeightsError: missing and ``download`` is off.
        InputError: no usable licence key is stored, or the server refused it.
        DownloadError: the download failed or did not hold the model.
    """
    folder = model_dir(weights_dir, modality)
    if folder.is_dir():
        return folder
    if not download:
        raise WeightsError(f"the body-statistics model {folder} is missing; allow downloads (a licence key is "
                           f"needed: `totalseg license set KEY`) or place the official folder there")
    from totalseg.models.license import LicenseAccess, download_licensed_zip, require_license
    from totalseg.transfer.archive import safe_extract

    access = access or LicenseAccess.from_env()
    require_license(access.home_dir, LICENSE_TASKS[modality])  # before anything is written
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".download-") as tmp:
        zip_path = download_licensed_zip(access, LICENSE_TASKS[modality], Path(tmp) / "model.zip", progress=progress)
        safe_extract(zip_path, folder.parent)
    if not (folder / "version_0").is_dir():
        raise DownloadError(f"the licence server's {LICENSE_TASKS[modality]} archive does not hold {folder.name}/"
                            "version_0; try again later")
    return folder


def find_checkpoint(folder: Path, fold: int) -> Path:
    """The one ``epoch*.ckpt`` of a fold, else its ``last.ckpt``."""
    checkpoints = folder / f"version_{fold}" / "checkpoints"
    found = sorted(checkpoints.glob("epoch*.ckpt"))
    if len(found) == 1:
        return found[0]
    if not found and (checkpoints / "last.ckpt").exists():
        return checkpoints / "last.ckpt"
    raise WeightsError(f"expected one checkpoint in {checkpoints}, found {len(found)}; reinstall the model")


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, hyper_parameters)`` of a Lightning checkpoint.

    Read without executing pickled code: tensors, plain containers, numpy scalars and MONAI's
    ``MetaTensor`` (when MONAI is installed) are allowed; a checkpoint naming anything else is refused.
    """
    checkpoint = load_safely(path, _monai_globals())
    if not isinstance(checkpoint, Mapping) or "state_dict" not in checkpoint:
        raise WeightsError(f"{path} has no 'state_dict'; expected a PyTorch Lightning checkpoint")
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, Mapping):
        raise WeightsError(f"{path} has no 'hyper_parameters' mapping; expected a PyTorch Lightning checkpoint")
    return dict(checkpoint["state_dict"]), dict(hparams)


def _monai_globals() -> list[Any]:
    try:
        from monai.data.meta_tensor import MetaTensor
    except ImportError:
        return []
    return [MetaTensor]


def load_fold(folder: Path, fold: int, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The network of one fold in eval mode on ``device``, with its hyper-parameters."""
    state, hparams = read_checkpoint(find_checkpoint(folder, fold))
    network = build_network(hparams)
    if any(key.startswith("backbone.") for key in state):
        state = {key.removeprefix("backbone."): v for key, v in state.items() if key.startswith("backbone.")}
    network.load_state_dict(state, strict=True)
    return network.to(device).eval(), hparams


def build_network(hparams: Mapping[str, Any]) -> torch.nn.Module:
    """The untrained network the hyper-parameters describe.

    Examples:
        >>> net = build_network({"model": "resnet3d_10", "dim": 3, "nr_channels": 1, "nr_classes": 4})  # doctest: +SKIP
        >>> net.fc[1].out_features  # doctest: +SKIP
        4
    """
    name = hparams.get("model", "tf_efficientnet_b0_ns")
    if name.startswith("resnet3d"):
        return _resnet3d(hparams)
    try:
        import timm
    except ImportError:
        raise ImportError(f"the body-statistics network {name} needs timm: pip install timm") from None
    return timm.create_model("tf_efficientnet_b0.ns_jft_in1k" if name == "tf_efficientnet_b0_ns" else name,
                             pretrained=False, num_classes=nr_outputs(hparams), in_chans=nr_channels(hparams))


def _resnet3d(hparams: Mapping[str, Any]) -> torch.nn.Module:
    try:
        from monai.networks import nets
    except ImportError:
        raise ImportError("the body-statistics 3-D ResNet needs MONAI: pip install monai") from None
    name = hparams.get("model")
    if name not in RESNET3D:
        raise WeightsError(f"unknown body-statistics network {name!r}; known: {', '.join(RESNET3D)}")
    constructor, width, shortcut, bias, widen, multihead = RESNET3D[name]
    network = getattr(nets, constructor)(
        pretrained=False, spatial_dims=int(hparams.get("dim", 3)), n_input_channels=nr_channels(hparams),
        feed_forward=False, shortcut_type=shortcut, bias_downsample=bias,
        conv1_t_stride=int(hparams.get("resnet3d_stride", 2)), widen_factor=widen)
    dropout = float(hparams.get("dropout", 0.0))
    network.fc = (MultiHeadOutput(width, nr_outputs(hparams), dropout) if multihead
                  else torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(width, nr_outputs(hparams))))
    return network


class MultiHeadOutput(torch.nn.Module):
    """One small MLP per target on the shared features (the official ``resnet3d_10_multihead`` head)."""

    def __init__(self, in_features: int, nr_heads: int, dropout: float):
        super().__init__()
        hidden = min(128, in_features)
        self.heads = torch.nn.ModuleList([
            torch.nn.Sequential(torch.nn.Linear(in_features, hidden), torch.nn.ReLU(inplace=True),
                                torch.nn.Dropout(dropout), torch.nn.Linear(hidden, 1))
            for _ in range(nr_heads)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=1)


def nr_channels(hparams: Mapping[str, Any]) -> int:
    """Input channels: ``nr_channels``, else one per image file (3-D) or per slice (2-D).

    Examples:
        >>> nr_channels({"dim": 2, "nr_slices": 5, "multi_orientation": True})
        15
    """
    if hparams.get("nr_channels") is not None:
        return int(hparams["nr_channels"])
    files = hparams.get("img_files", ["ct.nii.gz"])
    n_files = len(files) if isinstance(files, list) else 1
    if int(hparams.get("dim", 2)) == 3:
        return n_files
    return n_files * int(hparams["nr_slices"]) * (3 if hparams["multi_orientation"] else 1)


def nr_outputs(hparams: Mapping[str, Any]) -> int:
    """Outputs of the network: ``nr_classes`` (one less for a ``bce`` loss), else one per target.

    Examples:
        >>> nr_outputs({}), nr_outputs({"nr_classes": 13})
        (4, 13)
    """
    targets = hparams.get("reg_target_names") or DEFAULT_TARGETS
    n = int(hparams.get("nr_classes", len(targets)))
    return n - 1 if hparams.get("loss") == "bce" else n
