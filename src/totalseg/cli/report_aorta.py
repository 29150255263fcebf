"""``totalseg report aorta``: the aorta report, as the official ``totalseg_aorta_report``."""

from __future__ import annotations

import argparse
from pathlib import Path

PHASES = ("native", "arterial_early", "arterial_late", "portal_venous")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "aorta", help="aorta diameters at 11 landmarks, section lengths and volumes",
        description="The aorta report of TotalSegmentator's totalseg_aorta_report: centerline, cross-sections "
                    "perpendicular to it at 11 landmarks (maximal and perpendicular diameter, area, true/false "
                    "lumen), section lengths, maximal diameters and volumes. Writes aorta_report.json (the "
                    "official keys), not_measurable.json and aorta_report.html into OUTDIR.",
    )
    p.add_argument("-i", "--input", required=True, type=Path, metavar="CT", help="the CT (NIfTI)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR", help="output folder")
    p.add_argument("--seg-dir", type=Path, metavar="DIR",
                   help="folder of <class>.nii.gz masks: the official report's models/ folder (total ROIs, "
                        "annulus_proper, sinotubular_junction, celiac_trunk, aorta_true/false_lumen, "
                        "contrast_phase.json)")
    p.add_argument("--seg", type=Path, metavar="SEG",
                   help="a total segmentation (multilabel file or mask folder) for the total classes")
    p.add_argument("--contrast-phase", choices=PHASES, help="the CT's phase (default: contrast_phase.json "
                                                           "of --seg-dir; native disables the lumen masks)")
    p.add_argument("-n", "--nodeinfo", type=Path, metavar="FILE",
                   help="JSON of DICOM fields for the metadata block (PatientAge, PatientSex, ...)")
    p.add_argument("-e", "--erosion", action="store_true",
                   help="erode the aorta by one 0.8 mm voxel for the landmark cuts (the official --erosion)")
    p.add_argument("--skip-dissection", action="store_true", help="ignore the true/false lumen masks")
    p.add_argument("-d", "--device", default="cpu", help="cpu, gpu, gpu:N or mps for our total run "
                                                        "(without --seg/--seg-dir)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.reports.aorta.outputs import ReportRequest, run_report

    report = run_report(ReportRequest(ct=args.input, out_dir=args.output, seg_dir=args.seg_dir, seg=args.seg,
                                      device=args.device, phase=args.contrast_phase,
                                      skip_dissection=args.skip_dissection, erosion=args.erosion,
                                      nodeinfo=args.nodeinfo, quiet=args.quiet))
    if not args.quiet:
        for number, landmark in report.json["landmarks"].items():
            why = report.not_measurable.get(number)
            diameter = landmark["diameter"]
            value = f"{diameter * 10:.0f} mm" if diameter is not None else f"not measurable: {why}"
            print(f"{number:>2} {landmark['name']:<28} {value}")
        print(f"Wrote {args.output}")
    return 0
