"""``--report run.json``: the official machine-readable manifest of a finished run (its keys)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from totalseg.io.atomic import atomic_write_text

OFFICIAL_VERSION = "2.18.0"  # the TotalSegmentator whose semantics and outputs totalseg reproduces


def build_run_report(*, input: str, output: str | None, task: str, modality: str, license_required: bool,
                     device: torch.device, fast: bool, fastest: bool, ml: bool, output_type: Sequence[str],
                     roi_subset: Sequence[str] | None, classes: Mapping[int, str], runtime_seconds: float,
                     save_lowres: bool = False) -> dict:
    """The official run report's keys and values for one run; ``classes`` are the ones produced.

    ``totalsegmentator_version`` names the official version reproduced and ``nnunetv2_version`` is
    None (totalseg runs nnU-Net's models without nnunetv2); ``totalseg_version`` is added.

    Examples:
        >>> r = build_run_report(input="ct.nii.gz", output=None, task="total", modality="CT",
        ...                      license_required=False, device=torch.device("cpu"), fast=True, fastest=False,
        ...                      ml=True, output_type=["nifti"], roi_subset=None, classes={1: "spleen"},
        ...                      runtime_seconds=1.234)
        >>> r["device"], r["output_type"], r["num_classes"], r["runtime_seconds"], r["output_files"]
        ('cpu', 'nifti', 1, 1.23, [])
    """
    from totalseg import __version__

    output_files = sorted(p.name for p in Path(output).glob("*.nii.gz")) if output and Path(output).is_dir() else []
    return {
        "totalsegmentator_version": OFFICIAL_VERSION,
        "nnunetv2_version": None,
        "torch_version": torch.__version__,
        "task": task,
        "modality": modality,
        "license_required": license_required,
        "device": "gpu" if device.type == "cuda" else device.type,
        "fast": fast,
        "fastest": fastest,
        "save_lowres": save_lowres,
        "multilabel": ml,
        "output_type": output_type[0] if len(output_type) == 1 else list(output_type),  # as the official CLI
        "roi_subset": None if roi_subset is None else list(roi_subset),
        "input": input,
        "output": output,
        "num_classes": len(classes),
        "classes": {str(i): name for i, name in classes.items()},
        "runtime_seconds": round(runtime_seconds, 2),
        "output_files": output_files,
        "totalseg_version": __version__,
    }


def write_run_report(report: dict, path: Path) -> Path:
    """Write the report as the official tool does (indent 2), atomically; returns the path."""
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(report, indent=2))
    return path
