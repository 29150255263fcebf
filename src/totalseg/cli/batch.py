"""``totalseg batch``: segment many cases, resumably, locally or on a Ray cluster."""

from __future__ import annotations

import argparse
import sys

from totalseg.cli.segment import add_reports_option, add_segment_options, refuse_unsupported, segment_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="segment many images (resumable; local workers or Ray)",
        description="Segment many cases into OUTDIR/<case>/ with models kept loaded, and write "
                    "OUTDIR/results.parquet and results.csv. Run the same command again to resume.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, DICOM folders or zips; a folder of NIfTI/NRRD/MHA files gives one case per file")
    p.add_argument("--list", dest="case_list", metavar="FILE.csv",
                   help="a CSV with an 'input' column and optionally a 'case' column (instead of INPUTs)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="batch output folder")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes, each with its models loaded (default 1); with --ray, Ray actors "
                        "(default: as many as the cluster holds at --cpus-per-worker/--gpus-per-worker)")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="cases in flight per worker: one predicts while others read and write (default 2)")
    p.add_argument("--ray", metavar="ADDRESS", dest="ray_address",
                   help="run on a Ray cluster: auto, HOST:PORT, or local (needs pip install 'totalseg[ray]')")
    p.add_argument("--phase", action="store_true",
                   help="add each CT's contrast phase (phase, phase_probability, pi_time columns; phase.json)")
    p.add_argument("--modality", action="store_true",
                   help="add each image's modality, CT or MR (modality, modality_probability columns; modality.json)")
    p.add_argument("--cpus-per-worker", type=float, default=1, metavar="N", help="Ray CPUs per worker (default 1)")
    p.add_argument("--gpus-per-worker", type=float, default=None, metavar="N",
                   help="Ray GPUs per worker (default 1 with --device gpu, else 0)")
    add_reports_option(p, where="OUTDIR/<case>/reports/<name>/, with headline columns in the results table (a "
                                "--list CSV may give height_m, weight_kg, sex and nodeinfo columns)")
    add_segment_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.batch import cases_from_csv, cases_from_paths, run_batch
    from totalseg.errors import InputError
    from totalseg.settings import Settings

    refuse_unsupported(args)
    if args.save_probabilities is not None:
        raise InputError("--save_probabilities writes one file per run, not per case; run totalseg segment -sp "
                         "on the case whose probabilities you need")
    if bool(args.inputs) == bool(args.case_list):
        raise InputError("give either INPUT paths or --list FILE.csv (one of them)")
    cases = cases_from_csv(args.case_list) if args.case_list else cases_from_paths(args.inputs)
    gpus = args.gpus_per_worker
    if gpus is None:
        gpus = 1 if args.ray_address and str(args.device).startswith("gpu") else 0
    summary = run_batch(
        cases, args.output, options=segment_options(args), settings=Settings.from_env(), workers=args.workers,
        threads=args.threads, ray_address=args.ray_address, cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=gpus, progress=not args.quiet,
        measures=[name for name in ("phase", "modality") if getattr(args, name)], reports=args.reports or (),
    )
    if not args.quiet:
        print(f"{summary.ok} of {summary.total} cases done ({summary.skipped} from earlier runs), "
              f"{summary.failed} failed, {summary.elapsed_s:.1f} s; results in {summary.results}", file=sys.stderr)
        for name, error in summary.failures[:10]:
            print(f"  {name}: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
