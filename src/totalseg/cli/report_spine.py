"""``totalseg report spine``: vertebral heights, volumes and HU, as the official ``totalseg_spine_report``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "spine", help="vertebral body heights, height loss (Genant grade), volume and HU per vertebra",
        description="The spine report of TotalSegmentator's totalseg_spine_report: posterior, middle and anterior "
                    "height of each vertebral body (vertebrae_pp_refined masks), their difference, volume and "
                    "HU; plus a Genant grade per vertebra. Writes spine_report.json, spine_report.nii.gz (RGB), "
                    "spine_report.html and spine_report_sagittal.png into OUTDIR.",
    )
    p.add_argument("-i", "--input", required=True, metavar="CT", help="CT image or DICOM folder / .zip")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--seg-dir", dest="seg_dir", metavar="DIR",
                   help="folder of intermediate files as the official command keeps them "
                        "(totalseg_vertebrae_pp_refined.nii.gz, contrast_phase.json); missing ones are computed "
                        "and written there (default: OUTDIR)")
    p.add_argument("-n", "--nodeinfo", metavar="FILE", help="JSON of DICOM fields for the metadata block "
                                                           "(PatientSex, PatientAge, StudyDate, ...)")
    p.add_argument("-sr", "--spine-range", dest="spine_range", default="all",
                   choices=["all", "thoracic_lumbar", "lumbar", "l1_l4"], help="vertebrae to report (default all)")
    p.add_argument("-d", "--device", default="gpu",
                   help="cpu, gpu, gpu:N or mps for model runs (default gpu, else cpu)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.reports.spine.report import create_spine_report

    report = create_spine_report(args.input, args.output, seg_dir=args.seg_dir, nodeinfo=args.nodeinfo,
                                 spine_range=args.spine_range, device=args.device,
                                 download=not args.no_download, quiet=args.quiet)
    if not args.quiet:
        results = report.report["results"]
        print(f"{sum(k.endswith('_height_difference') for k in results)} vertebrae measured, "
              f"LWS_max {results['LWS_max']}; wrote {report.json_path}, {report.nifti_path}, {report.html_path}")
    return 0
