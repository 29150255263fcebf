"""``totalseg qc``: quality control of an existing segmentation (qc.json)."""

from __future__ import annotations

import argparse
import sys

_RANK = {"never": 3, "fail": 2, "warn": 1}
_STATUS_RANK = {"ok": 0, "warn": 1, "fail": 2}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "qc", help="quality control of a segmentation: flag implausible results (qc.json)",
        description="Eight checks of a segmentation against anatomy and the image: laterality, vertebra order, "
                    "field of view, fragmentation, volumes, intensities, expected structures, input. Works on "
                    "masks by totalseg or the official tool: a multilabel file or a folder of <class>.nii.gz "
                    "masks on the image's grid. See docs/qc.md.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="the CT/MR image the masks were made from")
    p.add_argument("--seg", required=True, metavar="PATH", help="multilabel NIfTI file or folder of per-class masks")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the qc.json to write")
    p.add_argument("--task", metavar="NAME", help="the task that made the masks (default: the file's label "
                                                  "names, or the task whose classes the mask names are)")
    p.add_argument("--modality", choices=["ct", "mr"], help="default: the task's")
    p.add_argument("--fail-on", dest="fail_on", choices=["never", "warn", "fail"], default="never",
                   help="exit with code 1 when the overall status is this bad or worse (default never)")
    p.add_argument("--height-m", dest="height_m", type=float, metavar="M",
                   help="patient height in metres (with --weight-kg: organ volume ranges scaled by body surface area)")
    p.add_argument("--weight-kg", dest="weight_kg", type=float, metavar="KG", help="patient weight in kilograms")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.qc import write_qc
    from totalseg.qc.files import qc_files

    if (args.height_m is None) != (args.weight_kg is None):
        from totalseg.errors import InputError

        raise InputError("--height-m and --weight-kg go together (body surface area needs both)")
    report = qc_files(args.input, args.seg, task=args.task, modality=args.modality, height_m=args.height_m,
                      weight_kg=args.weight_kg)
    write_qc(report, args.output)
    if not args.quiet:
        for check in report.checks:
            print(f"{check.status:4}  {check.name}: {check.message}", file=sys.stderr)
        print(f"QC {report.status}: wrote {args.output}", file=sys.stderr)
    return 1 if _STATUS_RANK[report.status] >= _RANK[args.fail_on] else 0
