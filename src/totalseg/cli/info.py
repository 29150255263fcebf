"""``totalseg info``: every official task, its models and classes (``--json`` for scripts).

The tables and JSON keys are the official ``totalseg_info``'s (``TotalSegmentator --list-tasks``,
``--list-classes``); ``--task NAME`` adds how the task runs (models, voxel size, crop, steps).
"""

from __future__ import annotations

import argparse
import json

from totalseg.models.license import ACADEMIC_LICENSE_URL as LICENSE_URL
from totalseg.models.tasks import MODES, TASK_NAMES, Task, catalog, get_task


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="list the tasks, their models and classes")
    group = p.add_mutually_exclusive_group()
    group.add_argument("-lt", "--list-tasks", action="store_true", help="the task table (modality, licence, classes)")
    group.add_argument("-cl", "--classes", action="store_true", help="the classes (id -> name) of --task")
    p.add_argument("-ta", "--task", choices=TASK_NAMES, metavar="TASK", help="a task: how it runs and its classes")
    p.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.task is not None:
        if args.as_json:
            print(json.dumps(task_json(args.task) if not args.classes else _classes_json(args.task), indent=2))
        else:
            print(classes_table(args.task) if args.classes else task_details(args.task))
        return 0
    if args.as_json:
        rows = task_rows() if args.list_tasks else {"tasks": {name: task_json(name) for name in TASK_NAMES},
                                                     "source": catalog()["source"]}
        print(json.dumps(rows, indent=2))
        return 0
    print(tasks_table())
    if not args.list_tasks:
        print("\n`totalseg info -ta TASK` shows how a task runs and its classes; --json for scripts.")
    return 0


def task_rows() -> list[dict]:
    """One row per task as the official ``list_tasks``: name, modality, license_required, num_classes."""
    return [{"name": name, "modality": row["modality"].upper(), "license_required": row["license"],
             "num_classes": len(get_task(name).classes)} for name, row in catalog()["tasks"].items()]


def tasks_table() -> str:
    """The official task table (``--list-tasks``)."""
    rows = task_rows()
    width = max(len("TASK"), *(len(r["name"]) for r in rows))
    header = f"{'TASK'.ljust(width)}  MODALITY  LICENSE  CLASSES"
    lines = [header, "-" * len(header)]
    for r in rows:
        licence = "yes" if r["license_required"] else "no"
        lines.append(f"{r['name'].ljust(width)}  {r['modality'].ljust(8)}  {licence.ljust(7)}  {r['num_classes']}")
    lines += ["", f"{len(rows)} tasks. Licensed tasks need a (free for non-commercial) license: {LICENSE_URL}"]
    return "\n".join(lines)


def classes_table(name: str) -> str:
    """The official class listing of a task (``--list-classes TASK``)."""
    task = get_task(name)
    licence = "license required" if task.license else "open license"
    lines = [f"Task '{name}'  [{task.modality.upper()}, {licence}, {len(task.classes)} classes]", ""]
    lines += [f"{str(i).rjust(4)}  {n}" for i, n in sorted(task.classes.items())]
    return "\n".join(lines)


def task_details(name: str) -> str:
    """How a task runs (models per mode, voxel size, crop, steps), then its classes."""
    lines = [classes_table(name).split("\n")[0], ""]
    for mode, task in _modes(name).items():
        ids = ", ".join(str(m.model_id) for m in task.models)
        lines.append(f"  {mode:8s} model {ids} ({task.models[0].configuration}) at {_spacing(task)}")
    task = get_task(name)
    if task.crop is not None:
        rough = task.crop.source + (" 3 mm" if task.crop.robust else "")
        lines.append(f"  crop     {', '.join(task.crop.classes)} from the {rough} run, + {task.crop.margin_mm:g} mm")
    steps = [*(["auxiliary labels " + ", ".join(map(str, task.aux_labels)) + " removed"] if task.aux_labels else []),
             *task.postprocess]
    if steps:
        lines.append(f"  steps    {'; '.join(steps)}")
    if not task.usable:
        lines.append("  weights  the official tool publishes no download for this task")
    if task.info:
        lines.append(f"  note     {task.info}")
    return "\n".join([*lines, "", *classes_table(name).split("\n")[2:]])


def task_json(name: str) -> dict:
    """The official registry entry of a task plus how it runs (models, spacing, crop, steps)."""
    task = get_task(name)
    return {
        "modality": task.modality.upper(), "license_required": task.license, "classes": _classes_json(name),
        "modes": {mode: {"models": [m.model_id for m in t.models], "configuration": t.models[0].configuration,
                         "spacing_mm": t.spacing_mm} for mode, t in _modes(name).items()},
        "crop": None if task.crop is None else {"classes": list(task.crop.classes), "source": task.crop.source,
                                                "margin_mm": task.crop.margin_mm, "robust": task.crop.robust},
        "auxiliary_labels": list(task.aux_labels), "postprocess": list(task.postprocess),
        "weights_available": task.usable,
    }


def _classes_json(name: str) -> dict[str, str]:
    return {str(i): n for i, n in get_task(name).classes.items()}


def _modes(name: str) -> dict[str, Task]:
    return {mode: get_task(name, mode) for mode in MODES if mode in catalog()["tasks"][name]["modes"]}


def _spacing(task: Task) -> str:
    if task.spacing_mm is None:
        return "the plans' voxel size (nnU-Net resamples)"
    spacing = task.spacing_mm if isinstance(task.spacing_mm, tuple) else (task.spacing_mm,)
    return " x ".join(f"{s:g}" for s in spacing) + " mm"
