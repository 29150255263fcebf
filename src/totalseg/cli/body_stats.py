"""``totalseg body-stats``: weight, height, age, sex, BMI and body surface area estimated from a CT or
MR, as the official ``totalseg_get_body_stats`` with its default CNN models."""

from __future__ import annotations

import argparse

from totalseg.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "body-stats", help="estimate weight, height, age, sex, BMI and body surface area from a CT or MR",
        description="Estimate body weight, height, age and sex (and BMI, body surface area; for CT also "
                    "scanner and contrast estimates) from a CT or MR, as TotalSegmentator's "
                    "totalseg_get_body_stats: the official CNN models, five folds, fetched from the licence "
                    "server on first use (`totalseg license set KEY`). Model estimates, not patient records; "
                    "more reliable for a large field of view.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="CT/MR image, DICOM folder or .zip")
    p.add_argument("-o", "--output", metavar="FILE", help="result JSON")
    p.add_argument("-m", "--modality", required=True, choices=("ct", "mr"), help="ct or mr")
    p.add_argument("-f", "--fold", default="all", help="fold 0-4, or all to average the five (default all)")
    p.add_argument("-d", "--device", default="cpu", help="cpu, gpu, gpu:N or mps (default cpu)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading the model")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.measure.body_stats import estimate_body_stats
    from totalseg.measure.files import write_json

    result = estimate_body_stats(args.input, modality=args.modality, device=args.device, folds=_folds(args.fold),
                                 download=not args.no_download, quiet=args.quiet)
    if args.output:
        write_json(result, args.output)
    if not args.quiet:
        print(result_lines(result))
    return 0


def _folds(fold: str) -> tuple[int, ...]:
    if fold == "all":
        return (0, 1, 2, 3, 4)
    if fold not in ("0", "1", "2", "3", "4"):
        raise InputError(f"-f {fold}: expected a fold 0-4 or all")
    return (int(fold),)


def result_lines(result: dict) -> str:
    """``key:  value unit`` lines aligned as the official tool prints them.

    Examples:
        >>> print(result_lines({"weight": {"value": 80.1, "unit": "kg"}, "sex": {"value": "M", "unit": None}}))
        weight:  80.1 kg
        sex:     M
    """
    width = max(len(key) for key in result) + 1
    return "\n".join(f"{key + ':':<{width}}  {_value(entry)}" for key, entry in result.items())


def _value(entry: dict) -> str:
    return f"{entry['value']} {entry['unit']}" if entry.get("unit") else str(entry["value"])
