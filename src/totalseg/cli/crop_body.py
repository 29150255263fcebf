"""``totalseg crop-to-body``: crop a CT to the body found by the 6 mm body model, as the official
``crop_to_body`` (same options; the output is int32)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "crop-to-body", aliases=["crop_to_body"], help="crop a CT to the body (6 mm body model, 3 mm margin)",
        description="Crop a CT to the body: the body task's 6 mm model finds it, the image is cut to its "
                    "bounding box plus 3 mm and written as int32, as the official crop_to_body.",
    )
    p.add_argument("-i", dest="input", metavar="PATH", required=True, help="the CT image")
    p.add_argument("-o", dest="output", metavar="PATH", required=True, help="the cropped image (.nii.gz or .nii)")
    p.add_argument("-t", "--only_trunc", action="store_true", help="crop to the trunk instead of the whole body")
    p.add_argument("-d", "--device", default="gpu",
                   help="cpu, gpu, gpu:N or mps (default gpu, falling back to cpu without one)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing weights")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)  # accepted as the official
    p.add_argument("-nr", "--nr_thr_resamp", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("-ns", "--nr_thr_saving", type=int, default=6, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.imaging.body_crop import crop_to_body
    from totalseg.io.nifti_file import check_nifti_path, save_nifti

    check_nifti_path(args.output)  # before the model runs
    cut = crop_to_body(args.input, only_trunk=args.only_trunc, device=args.device, quiet=args.quiet,
                       download=not args.no_download)
    save_nifti(cut.image, args.output)
    if not args.quiet:
        print(f"Cropped to {cut.image.shape} (voxels {_box(cut.bbox)}); wrote {args.output}", file=sys.stderr)
    return 0


def _box(bbox) -> str:
    return ", ".join(f"{b.start}:{b.stop}" for b in bbox)
