"""``totalseg measure``: statistics.json, clinical.json and a preview for an existing segmentation."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "measure", help="statistics, clinical measurements and a preview of an existing segmentation",
        description="The reports `totalseg segment -s/--clinical/-p` writes, for masks made earlier (by totalseg "
                    "or the official tool, any task): a multilabel file or a folder of <class>.nii.gz masks on "
                    "the image's grid. Without --statistics, --clinical or --preview: statistics.json.",
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
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.measure.existing import measure_segmentation

    statistics = args.statistics or not (args.clinical or args.preview)
    written = measure_segmentation(
        args.input, args.seg, args.output, task=args.task, statistics=statistics,
        include_incomplete=args.include_incomplete, aggregation=args.aggregation,
        statistics_extra=args.statistics_extra, clinical=args.clinical, preview=args.preview)
    if not args.quiet:
        print(f"Wrote {', '.join(str(path) for path in written.values())}", file=sys.stderr)
    return 0
