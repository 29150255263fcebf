"""``totalseg measure``: statistics.json, clinical.json and a preview for an existing segmentation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from totalseg.cli.segment import add_reports_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "measure", help="statistics, clinical measurements and a preview of an existing segmentation",
        description="The reports `totalseg segment -s/--clinical/-p` writes, for masks made earlier (by totalseg "
                    "or the official tool, any task): a multilabel file or a folder of <class>.nii.gz masks on "
                    "the image's grid. Without --statistics, --clinical, --preview or --reports: statistics.json.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="the CT/MR image the masks were made from")
    p.add_argument("--seg", required=True, metavar="PATH", help="multilabel NIfTI file or folder of per-class masks")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the report files")
    p.add_argument("--task", metavar="NAME", help="the task that made the masks (default: the file's label "
                                                  "names, or the task whose classes the mask names are)")
    p.add_argument("-s", "--statistics", nargs="?", const=True, default=False, metavar="PATH",
                   help="write statistics.json into DIR, or to PATH")
    p.add_argument("-sii", "--stats_include_incomplete", "--statistics_include_incomplete", action="store_true",
                   dest="include_incomplete", help="also measure structures cut off by the image border")
    p.add_argument("-sa", "--stats_aggregation", dest="aggregation", default="mean", choices=["mean", "median"],
                   help="intensity aggregation of the statistics (default mean)")
    p.add_argument("-sx", "--statistics_extra", action="store_true",
                   help="add voxel count, intensity std/min/max/median, centroid and bounding box")
    p.add_argument("--clinical", action="store_true", help="write clinical.json")
    p.add_argument("-p", "--preview", action="store_true", help="write preview_<task>.png")
    add_reports_option(p, where="DIR/reports/<name>/ (without -s, --clinical or -p: the reports alone)")
    p.add_argument("-d", "--device", default="gpu",
                   help="with --reports: cpu, gpu, gpu:N or mps for the masks they lack (default gpu, else cpu)")
    p.add_argument("--no-download", action="store_true", help="with --reports: fail instead of downloading weights")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.measure.existing import measure_segmentation

    if args.reports:
        from totalseg.reports.runner import check_names

        check_names(args.reports)
    if args.statistics or args.clinical or args.preview or not args.reports:
        statistics = args.statistics or not (args.clinical or args.preview)
        written = measure_segmentation(
            args.input, args.seg, args.output, task=args.task, statistics=statistics,
            include_incomplete=args.include_incomplete, aggregation=args.aggregation,
            statistics_extra=args.statistics_extra, clinical=args.clinical, preview=args.preview)
        if not args.quiet:
            print(f"Wrote {', '.join(str(path) for path in written.values())}", file=sys.stderr)
    if args.reports:
        _reports(args)
    return 0


def _reports(args: argparse.Namespace) -> None:
    """``--reports``: the reports of the image, reusing the given masks, into ``DIR/reports/<name>/``."""
    from totalseg.errors import InputError
    from totalseg.reports.runner import outcome_lines, run_reports

    seg = Path(args.seg)
    if not seg.exists():
        raise InputError(f"{seg}: no such segmentation file or folder; pass a multilabel .nii.gz or a mask folder")
    folder = Path(args.output) / "reports"
    results = run_reports(args.input, folder, args.reports, seg_dir=seg if seg.is_dir() else None,
                          seg=seg if seg.is_file() else None, seg_task=args.task, device=args.device,
                          download=not args.no_download, quiet=args.quiet)
    if not args.quiet:
        print("\n".join(outcome_lines(folder, results)), file=sys.stderr)
