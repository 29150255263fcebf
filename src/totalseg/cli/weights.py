"""``totalseg weights``: download, import and list the official model weights.

The store is the official tool's folder (``$TOTALSEG_WEIGHTS_PATH``, else
``~/.totalsegmentator/nnunet/results``), so weights either tool fetched serve both.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from tqdm import tqdm

from totalseg.engine.segment import SegmentRequest, needed_models
from totalseg.models.license import LicenseAccess
from totalseg.models.store import WeightsStore, download_flags
from totalseg.models.tasks import TASK_NAMES, Task, catalog, get_task
from totalseg.settings import Settings


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "weights", help="download, import or list model weights",
        description="Manage the official TotalSegmentator weights (in the official tool's folder).",
    )
    commands = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)

    dl = commands.add_parser("download", help="download the models of a task (its crop models included)")
    dl.add_argument("-ta", "--task", default="total", choices=(*TASK_NAMES, "all"), metavar="TASK",
                    help="a task of `totalseg info` (default total), or all: every open task, every mode")
    speed = dl.add_mutually_exclusive_group()
    speed.add_argument("-f", "--fast", action="store_true", help="the 3 mm model")
    speed.add_argument("-ff", "--fastest", action="store_true", help="the 6 mm model")
    dl.add_argument("--base-url", metavar="URL", help="a mirror of the release host: URL/<release>/<zip>")
    dl.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(handler=run_download)

    imp = commands.add_parser("import", help="install official weights zips downloaded by hand")
    imp.add_argument("zips", nargs="+", metavar="ZIP", help="e.g. Dataset297_TotalSegmentator_total_3mm_1559subj.zip")
    imp.set_defaults(handler=run_import)

    ls = commands.add_parser("list", help="show which models are installed and which tasks can run")
    ls.set_defaults(handler=run_list)


def _store() -> WeightsStore:
    settings = Settings.from_env()
    return WeightsStore(settings.weights_dir, license_access=LicenseAccess.from_env(home_dir=settings.home_dir))


def run_download(args: argparse.Namespace) -> int:
    store = _store()
    for task in _tasks_to_download(args):
        specs = needed_models(SegmentRequest(task))
        for spec in specs:
            if store.has(spec):
                print(f"model {spec.model_id} already installed: {store.model_dir(spec)}")
        for folder in store.download(replace(task, models=tuple(specs)), progress=not args.quiet,
                                     base_url=args.base_url):
            print(f"installed {folder}")
    return 0


def _tasks_to_download(args: argparse.Namespace) -> list[Task]:
    """The task asked for in its mode; for ``all``, every mode of every open task with a download."""
    if args.task != "all":
        return [get_task(args.task, "fastest" if args.fastest else "fast" if args.fast else "full")]
    return [get_task(name, mode) for name in TASK_NAMES for mode in catalog()["tasks"][name]["modes"]
            if not get_task(name).license and get_task(name).usable]


def run_import(args: argparse.Namespace) -> int:
    store = _store()
    for zip_path in args.zips:
        for spec in store.import_zip(zip_path):
            print(f"installed model {spec.model_id} ({download_flags(spec)}): {store.model_dir(spec)}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = _store()
    print(f"weights folder: {store.weights_dir}")
    for spec, installed, size_bytes in store.list():
        size = tqdm.format_sizeof(size_bytes, "B") if size_bytes else "-"
        state = "installed" if installed else "incomplete" if size_bytes else "missing"
        print(f"  {spec.model_id:4d}  {state:10s}  {size:>7s}  {download_flags(spec):26s}  {spec.folder}")
    print("tasks (every mode; crop and refining models included):")
    for name in TASK_NAMES:
        print(f"  {name:28s} {_task_state(store, name)}")
    unknown = store.unknown_folders()
    if unknown:
        print("other folders (not used by totalseg's tasks):")
        for path, size_bytes in unknown:
            print(f"  {tqdm.format_sizeof(size_bytes, 'B'):>7s}  {path.name}")
    return 0


def _task_state(store: WeightsStore, name: str) -> str:
    """``ready``, or per mode the models still missing and the command that fetches them."""
    if not get_task(name).usable:
        return "no official download"
    flags = {"full": "", "fast": " -f", "fastest": " -ff"}
    missing = []
    for mode in catalog()["tasks"][name]["modes"]:
        ids = [spec.model_id for spec in needed_models(SegmentRequest(get_task(name, mode))) if not store.has(spec)]
        if ids:
            missing.append(f"{mode}: {', '.join(map(str, ids))} (totalseg weights download -ta {name}{flags[mode]})")
    return "; ".join(missing) or "ready"
