"""The official TotalSegmentator MCP tools as plain functions on this engine (same names,
parameters and result keys as the official ``totalsegmentator_mcp`` server)."""

from __future__ import annotations

import json
from typing import Any

from totalseg.errors import InputError
from totalseg.mcp.paths import Workspace
from totalseg.models.tasks import TASK_NAMES, catalog, get_task

STATISTICS_WARNING = ("Statistics may include structures cut off by the scan boundaries. "
                      "Volumes and intensity measurements must therefore be interpreted cautiously.")
SPEEDS = ("standard", "fast", "fastest")


def _tasks_by_modality() -> dict[str, list[str]]:
    rows = catalog()["tasks"]
    return {m: sorted(n for n in TASK_NAMES if rows[n]["modality"].upper() == m)
            for m in sorted({rows[n]["modality"].upper() for n in TASK_NAMES})}


def list_all_tasks() -> dict[str, Any]:
    """Every task name grouped by modality (``CT``, ``MR``), with the task count.

    Examples:
        >>> result = list_all_tasks()
        >>> "total" in result["tasks"]["CT"], "total_mr" in result["tasks"]["MR"]
        (True, True)
    """
    return {"task_count": len(TASK_NAMES), "tasks": _tasks_by_modality()}


def list_all_classes() -> dict[str, Any]:
    """Every output class name grouped by modality, with the count of distinct names.

    Examples:
        >>> "liver" in list_all_classes()["classes"]["CT"]
        True
    """
    classes = {m: sorted({c for n in names for c in get_task(n).classes.values()})
               for m, names in _tasks_by_modality().items()}
    return {"class_count": len(set().union(*map(set, classes.values()))), "classes": classes}


def get_class_options(class_names: list[str]) -> dict[str, list[str]]:
    """For each class name, the tasks that output it.

    Examples:
        >>> get_class_options(["liver"])["liver"][:1]
        ['total']
    """
    owners = {n: set(get_task(n).classes.values()) for n in TASK_NAMES}
    unknown = set(class_names) - set().union(*owners.values())
    if unknown:
        raise InputError(f"unknown classes {sorted(unknown)}; list_all_classes gives the valid names")
    return {c: [n for n in TASK_NAMES if c in owners[n]] for c in class_names}


def get_task_details(task_names: list[str]) -> dict[str, Any]:
    """The registry entry of each task: modality, classes, licence, models, crop, steps.

    Examples:
        >>> get_task_details(["total"])["total"]["modality"]
        'CT'
    """
    from totalseg.cli.info import task_json

    unknown = set(task_names) - set(TASK_NAMES)
    if unknown:
        raise InputError(f"unknown tasks {sorted(unknown)}; list_all_tasks gives the valid names")
    return {n: task_json(n) for n in task_names}


def get_modality(workspace: Workspace, input_path: str) -> dict[str, str]:
    """CT or MR for an image, as ``totalseg modality`` (only the ``modality`` key).

    Examples:
        >>> get_modality(Workspace("."), "ct.nii.gz")  # doctest: +SKIP
        {'modality': 'ct'}
    """
    from totalseg.measure.modality import get_modality as predict

    return {"modality": predict(workspace.input(input_path))["modality"]}


def detect_contrast_phase(workspace: Workspace, input_path: str, device: str = "cpu") -> dict[str, Any]:
    """The contrast phase of a CT, as ``totalseg phase`` (runs ``total --fast``).

    Examples:
        >>> detect_contrast_phase(Workspace("."), "ct.nii.gz")["phase"]  # doctest: +SKIP
        'portal_venous'
    """
    from totalseg.measure.phase import get_phase

    return get_phase(workspace.input(input_path), device=_device(device))


def estimate_body_statistics(workspace: Workspace, input_path: str, modality: str,
                             device: str = "cpu") -> dict[str, Any]:
    """Weight, height, age, sex, BMI and body surface area (and for CT the scanner and contrast
    estimates) of a CT or MR, as the official ``totalseg_get_body_stats`` with its CNN models; the
    model is fetched from the licence server on first use (a stored licence key is needed).

    Examples:
        >>> estimate_body_statistics(Workspace("."), "ct.nii.gz", "ct")["weight"]["unit"]  # doctest: +SKIP
        'kg'
    """
    from totalseg.measure.body_stats import MODALITIES, estimate_body_stats

    if modality not in MODALITIES:
        raise InputError(f"unknown modality {modality!r}; use ct or mr")
    return estimate_body_stats(workspace.input(input_path), modality=modality, device=_device(device))


def run_segmentation(workspace: Workspace, input_path: str, output_path: str, task: str, device: str = "cpu",
                     speed: str = "standard", roi_subset: list[str] | None = None,
                     statistics: bool = True) -> dict[str, Any]:
    """Segment an image into a mask folder under the root, with statistics.json and run_report.json.

    Examples:
        >>> run_segmentation(Workspace("."), "ct.nii.gz", "seg", "total", speed="fast")  # doctest: +SKIP
        {'status': 'completed', ..., 'statistics_path': '.../seg/statistics.json', ...}
    """
    from totalseg.api import segment

    if task not in TASK_NAMES:
        raise InputError(f"unknown task {task!r}; list_all_tasks gives the valid names")
    if speed not in SPEEDS:
        raise InputError(f"unknown speed {speed!r}; use one of {', '.join(SPEEDS)}")
    source, out = workspace.input(input_path), workspace.output(output_path)
    stats_path, report_path = out / "statistics.json", out / "run_report.json"
    segment(source, out, task=task, fast=speed == "fast", fastest=speed == "fastest",
            higher_order_resampling=speed == "fast", roi_subset=roi_subset or None, device=_device(device),
            quiet=True, report=report_path, statistics=stats_path if statistics else False,
            statistics_include_incomplete=True)
    result: dict[str, Any] = {"status": "completed", **json.loads(report_path.read_text())}
    if statistics:
        result["statistics_path"] = str(stats_path)
        result["statistics_warning"] = STATISTICS_WARNING
    return result


def _device(device: str) -> str:
    if device not in ("gpu", "cpu", "mps") and not device.startswith("gpu:"):
        raise InputError(f"unknown device {device!r}; use gpu, cpu or mps")
    return device
