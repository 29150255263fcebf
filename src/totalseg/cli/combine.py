"""``totalseg combine``: merge a class group (lung, ribs, vertebrae, ...) into one mask, as the
official ``totalseg_combine_masks`` (same options)."""

from __future__ import annotations

import argparse
import sys

from totalseg.anatomy.groups import GROUP_NAMES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "combine", aliases=["combine_masks"], help="merge a group of masks (lung, ribs, ...) into one",
        description="Merge the masks of a class group into one binary mask (uint8), from a folder of "
                    "per-class masks or a multilabel file, as the official totalseg_combine_masks.",
    )
    p.add_argument("-i", dest="source", metavar="PATH", required=True,
                   help="folder of per-class <name>.nii.gz masks, or a multilabel .nii.gz (the -ml output)")
    p.add_argument("-o", dest="output", metavar="PATH", required=True, help="the combined mask (.nii.gz or .nii)")
    p.add_argument("-m", "--masks", dest="group", required=True, choices=GROUP_NAMES, metavar="GROUP",
                   help=f"the group to merge: {', '.join(GROUP_NAMES)}")
    p.add_argument("-ml", "--multilabel", action="store_true",
                   help="store the group's name as label 1 in the header (the official label extension)")
    p.add_argument("-t", "--nora_tag", default="None", help=argparse.SUPPRESS)  # the official Nora hook: ignored
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.io.combine import combine_masks
    from totalseg.io.nifti_file import save_nifti

    path = save_nifti(combine_masks(args.source, args.group, multilabel=args.multilabel), args.output)
    print(f"Wrote {path}", file=sys.stderr)
    return 0
