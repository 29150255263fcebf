"""``totalseg modality``: CT or MR, as the official ``totalseg_get_modality``."""

from __future__ import annotations

import argparse
from pprint import pprint


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "modality", help="CT or MR, from the image intensities",
        description="Predict whether an image is CT or MR, as TotalSegmentator's totalseg_get_modality: "
                    "five boosted classifiers vote on the image's mean, std, min and max, or with -n on "
                    "normalized intensities within 16 structures of total_mr --fast.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="CT/MR image or DICOM folder / .zip")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="result JSON")
    p.add_argument("-n", dest="normalized", action="store_true",
                   help="use normalized intensities within structures (for images without original "
                        "intensities; runs total_mr --fast)")
    p.add_argument("-d", "--device", default="gpu", help="cpu, gpu, gpu:N or mps (default gpu, else cpu)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.measure.files import write_json
    from totalseg.measure.modality import get_modality

    result = get_modality(args.input, normalized=args.normalized, device=args.device,
                          download=not args.no_download, quiet=args.quiet)
    write_json(result, args.output)
    if not args.quiet:
        print("Result:")
        pprint(result)
    return 0
