"""``totalseg phase``: the CT contrast phase, as the official ``totalseg_get_phase``."""

from __future__ import annotations

import argparse
from pprint import pprint


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "phase", help="CT contrast phase (native, arterial, portal venous) from organ intensities",
        description="Predict the time since contrast injection and the phase of a CT, as TotalSegmentator's "
                    "totalseg_get_phase: median intensities of 20 structures (total --fast, and "
                    "headneck_bones_vessels when the brain is in the image), five boosted regressors.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="CT image or DICOM folder / .zip")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="result JSON")
    p.add_argument("--seg", metavar="PATH", help="an existing total segmentation on the CT's grid (multilabel "
                                                 "file or mask folder) instead of the total --fast run")
    p.add_argument("--seg-headneck", dest="seg_headneck", metavar="PATH",
                   help="with --seg: an existing headneck_bones_vessels segmentation (else the 4 neck "
                        "features are 0)")
    p.add_argument("-s", "--stats", metavar="FILE", help="an existing statistics.json of total (-sa median -sii) "
                                                         "instead of the total --fast run, as the official -s")
    p.add_argument("-d", "--device", default="gpu", help="cpu, gpu, gpu:N or mps (default gpu, else cpu)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.measure.files import write_json
    from totalseg.measure.phase import get_phase

    result = get_phase(args.input, seg=args.seg, seg_headneck=args.seg_headneck, stats=args.stats,
                       device=args.device, download=not args.no_download, quiet=args.quiet)
    write_json(result, args.output)
    if not args.quiet:
        print("Result:")
        pprint(result)
    return 0
