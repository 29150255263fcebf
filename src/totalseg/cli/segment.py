"""``totalseg segment``: the official TotalSegmentator flags, same short forms."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from totalseg.engine.precision import PRECISIONS
from totalseg.models.tasks import TASK_NAMES

# The official TotalSegmentator options not carried out, and why (README, "Official options").
_NOT_SUPPORTED = (
    (("-t", "--nora_tag"), {"default": "None"}),
    (("--test",), {"type": int, "default": 0}),
    (("-cp", "--crop_path"), {"default": None}),
)
_WHY = {
    "nora_tag": "a hook of the official tool's own imaging platform (NORA); not applicable",
    "test": "a hook of the official tool's own unit tests; not applicable",
    "crop_path": "a deprecated path of the official tool (its code warns so); crops come from the task",
}


def refuse_unsupported(args: argparse.Namespace) -> None:
    """One line for an official option totalseg does not carry out (its reason), instead of ignoring it."""
    from totalseg.errors import InputError

    defaults = {next(f for f in flags if f.startswith("--"))[2:]: kwargs.get("default", False)
                for flags, kwargs in _NOT_SUPPORTED}
    for name, default in defaults.items():
        if getattr(args, name, default) != default:
            why = _WHY.get(name, "not supported by totalseg yet")
            raise InputError(f"--{name}: {why}; see the README's list of official options")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "segment", help="segment a CT or MR image",
        description="Segment a CT or MR image with the official TotalSegmentator models.",
    )
    p.add_argument("-i", "--input", metavar="PATH",
                   help="image (.nii, .nii.gz, .nrrd, .mha, .mhd) or DICOM folder / .zip of a study (required)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="folder for per-class masks, or the multilabel file with --ml (required)")
    add_segment_options(p, verbose_help="print where the time went: start-up and reading, weights, "
                                         "prediction (network alone), writing")
    p.add_argument("-lt", "--list-tasks", action="store_true", dest="list_tasks",
                   help="list every task (modality, licence, number of classes) and exit")
    p.add_argument("-lc", "--list-classes", dest="list_classes", nargs="?", const="total", metavar="TASK",
                   choices=TASK_NAMES, help="list the classes of a task (default total) and exit")
    p.add_argument("-l", "--license_number", metavar="KEY",
                   help="store this licence key first (needed once, for the licensed tasks)")
    add_reports_option(p, where="<output folder>/reports/<name>/ (the mask folder, or the --ml file's folder)")
    p.add_argument("--height-m", dest="height_m", type=float, metavar="M",
                   help="patient height in metres, with --weight-kg: --qc scales organ volume ranges by body "
                        "surface area; --reports body_composition gives the muscle index")
    p.add_argument("--weight-kg", dest="weight_kg", type=float, metavar="KG", help="patient weight in kilograms")
    p.set_defaults(handler=run)


def add_segment_options(p: argparse.ArgumentParser, *, verbose_help: str = argparse.SUPPRESS) -> None:
    """Every segment option but input and output; ``totalseg batch`` takes the same ones (its ``-v``
    is accepted and hidden)."""
    p.add_argument("-ta", "--task", default=None, choices=TASK_NAMES, metavar="TASK",
                   help="an official task, see `totalseg info` (default total; total_mr for an MR DICOM series)")
    p.add_argument("-ms", "--model_size", choices=("big", "small"), default="big",
                   help="small: the smaller ResEnc models of total_v3")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("-f", "--fast", action="store_true", help="3 mm model")
    speed.add_argument("-ff", "--fastest", action="store_true", help="6 mm model")
    p.add_argument("-ml", "--ml", action="store_true", help="one multilabel file instead of one file per class")
    roi = p.add_mutually_exclusive_group()
    roi.add_argument("-rs", "--roi_subset", nargs="+", metavar="CLASS", help="only these classes (faster)")
    roi.add_argument("-rsr", "--roi_subset_robust", nargs="+", metavar="CLASS",
                     help="as --roi_subset, cropped with the 3 mm model (more robust, slower)")
    p.add_argument("-rc", "--robust_crop", action="store_true",
                   help="crop (--roi_subset and the tasks that crop) with the 3 mm model instead of the 6 mm one")
    p.add_argument("-rmb", "--remove_small_blobs", nargs="?", const=200.0, default=False, type=float, metavar="MM3",
                   help="remove each structure's connected components of at most MM3 mm3 (default 200)")
    p.add_argument("-v1o", "--v1_order", action="store_true",
                   help="task total: number the multilabel file's structures as v1 did (v2-only ones dropped)")
    p.add_argument("-ho", "--higher_order_resampling", action="store_true",
                   help="let nnU-Net resample (cubic) and bring the logits back class by class, as the official -ho")
    p.add_argument("--higher_order_resampling_LEGACY", "--high_order_resampling_LEGACY", action="store_true",
                   help="bring the labels back one at a time, linearly (the official LEGACY variant of -ho)")
    p.add_argument("-sl", "--save_lowres", action="store_true",
                   help="with --fast/--fastest: keep the masks at the model's 3/6 mm instead of the input's resolution")
    p.add_argument("-sp", "--save_probabilities", metavar="PATH", default=None,
                   help="write the softmax output of the task's last model to PATH (.npz, model grid) and "
                        "nnU-Net's properties of that grid beside it (.pkl), as the official -sp")
    p.add_argument("-r", "--radiomics", action="store_true",
                   help="write statistics_radiomics.json: pyradiomics shape and first-order features of each "
                        "mask (per-class output; needs pip install 'totalseg[radiomics]')")
    p.add_argument("-rp", "--report", metavar="PATH", default=None,
                   help="write the official JSON run manifest (versions, device, task, classes, files, runtime)")
    p.add_argument("-ss", "--skip_saving", action="store_true",
                   help="write no segmentation, only the reports asked for (e.g. -s statistics)")
    p.add_argument("-ndm", "--no_derived_masks", action="store_true",
                   help="task body: do not add body.nii.gz and skin.nii.gz to the per-class masks")
    p.add_argument("-bs", "--body_seg", action="store_true", help="crop to the body first (CT)")
    p.add_argument("-fs", "--force_split", action="store_true", help="predict in 3 z-slabs")
    p.add_argument("-ro", "--resampling_order", type=int, default=1, choices=range(6), metavar="0-5",
                   help="spline order of the input resampling (default 1)")
    p.add_argument("-d", "--device", default="gpu",
                   help="cpu, gpu, gpu:N or mps (default gpu, falling back to cpu without one)")
    p.add_argument("-ot", "--output_type", nargs="+", default=["nifti"], metavar="TYPE",
                   help="nifti, dicom_seg, dicom_rtstruct; several allowed (-ot nifti dicom_seg or "
                        "-ot nifti,dicom_seg); DICOM types need a DICOM input")
    p.add_argument("--model-dir", metavar="DIR",
                   help="run this nnU-Net v2 model folder instead of a task, as nnUNetv2_predict does "
                        "(no test-time mirroring)")
    p.add_argument("--folds", nargs="+", metavar="FOLD",
                   help="with --model-dir: the folds to average (0 1 2 ..., all); default every fold present")
    p.add_argument("--step_size", type=float, metavar="S",
                   help="with --model-dir: tile step as a fraction of the patch (default 0.5, as nnU-Net)")
    p.add_argument("--precision", default="nnunet", choices=PRECISIONS,
                   help="nnunet: masks identical to the official tool (default); fp32: fp32 accumulation; "
                        "bf16: network in bfloat16, about 2x faster on CPUs with AVX-512 BF16/AMX, "
                        "masks not identical (Dice cost in docs/benchmarks.md)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing weights")
    _add_measure_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true",
                   help="on an error, also print the traceback, the input and the task (for a bug report)")
    p.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    # Official options totalseg does not carry out: accepted, then refused in one line (not "unrecognized").
    for flags, kwargs in _NOT_SUPPORTED:
        p.add_argument(*flags, help=argparse.SUPPRESS, **kwargs)
    # Accepted for compatibility with the official command line; totalseg needs no worker threads.
    p.add_argument("-nr", "--nr_thr_resamp", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("-ns", "--nr_thr_saving", type=int, default=None, help=argparse.SUPPRESS)


def _add_measure_options(p: argparse.ArgumentParser) -> None:
    """The official statistics and preview flags, and --clinical."""
    p.add_argument("--qc", action="store_true",
                   help="write qc.json: quality checks of the segmentation (laterality, vertebra order, field of "
                        "view, fragments, volumes, intensities, expected structures, input), each ok/warn/fail")
    p.add_argument("-s", "--statistics", nargs="?", const=True, default=False, metavar="PATH",
                   help="write statistics.json (volume in mm3, mean intensity) into the output folder, or to PATH")
    p.add_argument("-sii", "--stats_include_incomplete", "--statistics_include_incomplete", action="store_true",
                   dest="statistics_include_incomplete",
                   help="also measure structures cut off by the image border (within 3 voxels)")
    p.add_argument("-sa", "--stats_aggregation", dest="statistics_aggregation", default="mean",
                   choices=["mean", "median"], help="intensity aggregation of the statistics (default mean)")
    p.add_argument("-sx", "--statistics_extra", action="store_true",
                   help="add voxel count, intensity std/min/max/median, centroid and bounding box (voxels, mm)")
    p.add_argument("--clinical", action="store_true",
                   help="write clinical.json: L1 bone density, liver fat, organ volumes, aorta diameter")
    p.add_argument("-p", "--preview", action="store_true",
                   help="write preview_<task>.png: axial, coronal and sagittal slices with coloured masks")


def add_reports_option(p: argparse.ArgumentParser, *, where: str) -> None:
    """``--reports NAME [NAME ...]``: the clinical reports run after the segmentation."""
    from totalseg.reports.runner import REPORTS

    p.add_argument("--reports", nargs="+", choices=list(REPORTS), metavar="NAME",
                   help=f"then write these clinical reports ({', '.join(REPORTS)}; as `totalseg report NAME`) into "
                        f"{where}, reusing the segmentation's masks; what they lack is segmented")


def run(args: argparse.Namespace) -> int:
    from totalseg.cli.info import classes_table, tasks_table
    from totalseg.errors import InputError
    from totalseg.io.read_ahead import ReadAhead

    if args.list_tasks or args.list_classes:
        print(tasks_table() if args.list_tasks else classes_table(args.list_classes))
        return 0
    refuse_unsupported(args)
    missing = [flag for flag, value in (("-i", args.input), ("-o", args.output)) if value is None]
    if missing:
        raise InputError(f"{' and '.join(missing)} required: totalseg segment -i IMAGE -o OUTPUT")

    if args.reports:
        from totalseg.reports.runner import check_segment_request

        check_segment_request(args.reports, output=args.output, task=args.task, save_lowres=args.save_lowres)
    clock = StageClock()
    source = ReadAhead(args.input) if ReadAhead.applies_to(args.input) else args.input  # read while torch imports
    from totalseg.api import segment
    from totalseg.engine.predictor import network_clock

    network_before = (network_clock.seconds, network_clock.passes)
    segment(
        source, args.output, task=args.task, fast=args.fast, fastest=args.fastest, ml=args.ml,
        roi_subset=args.roi_subset, roi_subset_robust=args.roi_subset_robust, robust_crop=args.robust_crop,
        body_seg=args.body_seg, force_split=args.force_split, no_derived_masks=args.no_derived_masks,
        model_size=args.model_size, remove_small_blobs=args.remove_small_blobs, v1_order=args.v1_order,
        skip_saving=args.skip_saving, save_lowres=args.save_lowres,
        higher_order_resampling=args.higher_order_resampling,
        higher_order_resampling_LEGACY=args.higher_order_resampling_LEGACY,
        report=None if args.report is None else os.path.abspath(args.report),
        save_probabilities=None if args.save_probabilities is None else os.path.abspath(args.save_probabilities),
        radiomics=args.radiomics, qc=args.qc, height_m=args.height_m, weight_kg=args.weight_kg,
        resampling_order=args.resampling_order, device=args.device, quiet=args.quiet,
        model_dir=args.model_dir, folds=args.folds, step_size=args.step_size, precision=args.precision,
        download=not args.no_download, license_number=args.license_number,
        output_type=args.output_type, statistics=args.statistics, statistics_extra=args.statistics_extra,
        statistics_include_incomplete=args.statistics_include_incomplete,
        statistics_aggregation=args.statistics_aggregation, clinical=args.clinical, preview=args.preview,
        keep_models=False,  # one image per process: each model is freed once its part is predicted
        on_stage=clock.mark,
    )
    if args.reports:
        run_reports_after(args)
    if args.verbose:
        network_s, passes = network_clock.seconds - network_before[0], network_clock.passes - network_before[1]
        print(clock.summary(network_s, passes), file=sys.stderr)
    elif not args.quiet:
        print(f"Done in {clock.elapsed():.1f} s", file=sys.stderr)
    return 0


def run_reports_after(args: argparse.Namespace) -> None:
    """``--reports``: the reports of the image just segmented; one line per report unless ``-q``."""
    from totalseg.reports.runner import outcome_lines, reports_after_segment

    folder, results = reports_after_segment(
        args.input, args.output, args.reports, task=args.task, ml=args.ml, output_type=args.output_type,
        skip_saving=args.skip_saving, device=args.device, download=not args.no_download, quiet=args.quiet,
        **{k: v for k, v in (("height_m", args.height_m), ("weight_kg", args.weight_kg)) if v is not None})
    if not args.quiet:
        print("\n".join(outcome_lines(folder, results)), file=sys.stderr)


class StageClock:
    """When each stage of :func:`totalseg.segment` began (its ``on_stage`` names), for ``-v``."""

    _NAMES = {"start": "start-up and reading", "load": "weights", "predict": "prediction", "write": "writing"}

    def __init__(self) -> None:
        self.marks = [("start", time.perf_counter())]

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.perf_counter()))

    def elapsed(self) -> float:
        return time.perf_counter() - self.marks[0][1]

    def summary(self, network_s: float, passes: int) -> str:
        """One line: seconds per stage, the network's share of prediction, the total.

        Examples:
            >>> clock = StageClock()
            >>> clock.summary(0.0, 0).startswith("Timing: start-up and reading")
            True
        """
        ends = [t for _, t in self.marks[1:]] + [time.perf_counter()]
        parts = [f"{self._NAMES.get(name, name)} {end - t:.2f} s" for (name, t), end in zip(self.marks, ends)]
        tiles = f"{passes} tile" + ("" if passes == 1 else "s")
        return f"Timing: {', '.join(parts)}; network {network_s:.2f} s over {tiles}; total {self.elapsed():.2f} s"


def segment_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`totalseg.segment` given on the command line (not input,
    output, quiet or settings): every option whose name is a parameter of ``segment``."""
    import inspect

    from totalseg.api import segment

    skip = {"input", "output", "quiet", "settings", "on_tile", "on_stage"}
    names = [n for n in inspect.signature(segment).parameters if n not in skip]
    options = {n: getattr(args, n) for n in names if hasattr(args, n)}
    if hasattr(args, "no_download"):
        options["download"] = not args.no_download
    return options
