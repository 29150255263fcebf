"""``totalseg evaluate``: Dice and normalized surface Dice of predictions against ground truth."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="Dice and NSD of predicted segmentations against ground truth",
        description="Per subject and class Dice and normalized surface Dice (NSD) with each image's real "
                    "spacing; a class absent from the ground truth is NaN (skipped), present but not "
                    "predicted is 0. Writes JSON and a CSV beside it, prints a per-class summary.",
    )
    p.add_argument("--gt", required=True, metavar="DIR",
                   help="ground truth: <case>.nii.gz label maps or <case>/[segmentations/]<class>.nii.gz")
    p.add_argument("--pred", required=True, metavar="DIR", help="predictions, same layouts, same case names")
    p.add_argument("--out", required=True, metavar="FILE", help="metrics JSON (a .csv is written beside it)")
    p.add_argument("--classes", nargs="+", metavar="NAME", help="only these classes (default: all of the ground truth)")
    p.add_argument("--labels", metavar="JSON", help="dataset.json naming the label ids of multilabel files")
    p.add_argument("--tolerance", type=float, default=3.0, metavar="MM", help="NSD tolerance in mm (default 3)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from totalseg.errors import InputError
    from totalseg.evaluation.evaluate import evaluate_folders, summary_table, write_metrics

    if not args.tolerance > 0:
        raise InputError(f"--tolerance must be a positive number of mm, got {args.tolerance}")
    with tqdm(desc="Evaluating", unit="case", disable=args.quiet, leave=False, file=sys.stderr) as bar:
        result = evaluate_folders(args.gt, args.pred, classes=args.classes, labels_json=args.labels,
                                  tolerance_mm=args.tolerance, on_case=lambda _: bar.update())
    json_path, csv_path = write_metrics(result, args.out)
    if not args.quiet:
        print(summary_table(result))
        print(f"Metrics written to {json_path} and {csv_path}", file=sys.stderr)
    return 0
