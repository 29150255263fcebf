"""``totalseg report body_composition``: muscle and fat areas on the L3 mid-slice from open models."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "body_composition", help="skeletal muscle, visceral and subcutaneous fat at L3 (open models)",
        description="Skeletal muscle area and index, muscle attenuation, visceral, subcutaneous and intermuscular "
                    "fat area on the axial slice halfway through L3, with published sarcopenia cut-offs. Masks: "
                    "vertebrae_L3 (total), abdominal_muscles, abdominal_cavity (trunk_cavities), body_trunc "
                    "(body); those not found in --seg-dir are segmented. Writes body_composition.json and .html.",
    )
    p.add_argument("-i", "--input", required=True, metavar="PATH", help="CT image or DICOM folder / .zip")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="report folder")
    p.add_argument("--seg-dir", dest="seg_dirs", action="append", default=[], metavar="DIR",
                   help="folder with existing masks on the CT's grid (<class>.nii.gz, <task>/<class>.nii.gz or "
                        "<task>.nii.gz); may be repeated")
    p.add_argument("--height-m", type=float, metavar="M", help="body height in metres (for the muscle index)")
    p.add_argument("--weight-kg", type=float, metavar="KG", help="body weight (for BMI-dependent cut-offs)")
    p.add_argument("--sex", choices=["male", "female"], help="for the sex-specific cut-offs")
    p.add_argument("-d", "--device", default="gpu", help="cpu, gpu, gpu:N or mps for missing masks (default gpu, "
                                                         "else cpu)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing weights")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.reports.body_composition import body_composition

    result = body_composition(args.input, args.output, seg_dirs=args.seg_dirs, height_m=args.height_m,
                              weight_kg=args.weight_kg, sex=args.sex, device=args.device, quiet=args.quiet,
                              segment_kwargs={"download": not args.no_download})
    if not args.quiet:
        if result["status"] != "measured":
            print(f"Body composition: {result['reason']}", file=sys.stderr)
        for name, m in result["measurements"].items():
            print(f"{name}: {m['value']} {m['unit']} {m['reason']}".rstrip(), file=sys.stderr)
        print(f"Wrote {args.output}/body_composition.json and body_composition.html", file=sys.stderr)
    return 0
