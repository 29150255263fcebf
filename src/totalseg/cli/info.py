"""``totalseg info``: tasks, their models and classes."""

from __future__ import annotations

import argparse

from totalseg.models.tasks import MODES, TASK_NAMES, get_task


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="list tasks, models and classes")
    p.add_argument("--task", choices=TASK_NAMES, help="list the classes of this task")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.task is None:
        for name in TASK_NAMES:
            full = get_task(name, "full")
            print(f"{name} ({full.modality.upper()}, {len(full.classes)} classes)")
            for mode in MODES:
                task = get_task(name, mode)
                ids = ", ".join(str(m.model_id) for m in task.models)
                print(f"  {mode:8s} models {ids} at {task.spacing_mm} mm")
        print("`totalseg info --task NAME` lists the classes of a task.")
        return 0
    for label, name in get_task(args.task).classes.items():
        print(f"{label:4d}  {name}")
    return 0
