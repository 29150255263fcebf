"""``totalseg report pulmonary``: pulmonary artery landmark diameters, as the official
``totalseg_pulmonary_report``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pulmonary", help="pulmonary artery diameters at five landmarks (JSON + HTML page)",
        description="Area and diameters of the pulmonary artery at the proximal MPA, the sinotubular junction, "
                    "the bifurcation and the start of the left and right pulmonary arteries, as TotalSegmentator's "
                    "totalseg_pulmonary_report. Its masks come from the licensed heartchambers_highres and "
                    "pulmonary_artery_landmarks tasks: pass them (--seg-dir, --seg), or store a licence key so "
                    "that our engine runs them; landmarks without masks are reported as not measurable.",
    )
    p.add_argument("-i", "--input", required=True, metavar="CT", help="CT image (NIfTI, NRRD, MHA, DICOM folder)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder for pulmonary_report.json and pulmonary_report.html")
    p.add_argument("--seg-dir", dest="seg_dir", metavar="DIR",
                   help="masks in the official intermediate layout: pulmonary_artery.nii.gz, pul_annulus.nii.gz, "
                        "pul_sinotubular_junction.nii.gz, pul_bifurcation.nii.gz, pul_left_start.nii.gz, "
                        "pul_right_start.nii.gz")
    p.add_argument("--seg", action="append", default=[], metavar="SEG",
                   help="a mask folder or multilabel file with label names (--ml output); repeatable")
    p.add_argument("-n", "--nodeinfo", metavar="JSON",
                   help="patient DICOM tags for the metadata block (as the official -n); default: the official's")
    p.add_argument("--no-models", dest="run_models", action="store_false",
                   help="do not run our engine for missing masks")
    p.add_argument("-d", "--device", default="cpu", help="cpu, gpu, gpu:N or mps (default cpu)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.reports.pulmonary.pipeline import pulmonary_report

    report = pulmonary_report(args.input, args.output, seg_dir=args.seg_dir, seg=args.seg,
                              nodeinfo=args.nodeinfo, run_models=args.run_models, device=args.device, quiet=args.quiet)
    if not args.quiet:
        for index, entry in report["landmarks"].items():
            if entry["diameter"] is None:
                print(f"{index} {entry['name']}: not measurable, because {report['not_measurable'].get(index)}")
            else:
                print(f"{index} {entry['name']}: {entry['diameter']} x {entry['diameter_pd']} cm, "
                      f"area {entry['area']} cm²")
        print(f"Wrote {args.output}/pulmonary_report.json and pulmonary_report.html")
    return 0
