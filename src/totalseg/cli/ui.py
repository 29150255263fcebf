"""``totalseg ui``: serve the web app (Streamlit) on a host and port."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from totalseg.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ui", help="start the web app",
        description="Serve the web app: upload or choose an image, segment, view, measure, compare, export.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="server folder whose images users may open without uploading "
                        "(default $TOTALSEG_UI_DATA_DIR; none when unset)")
    p.add_argument("--job-store", metavar="DIR",
                   help="job store shared with totalseg serve and totalseg dicom-node (their --data-dir): the Jobs "
                        "page lists its jobs, the app's runs are recorded there "
                        "(default $TOTALSEG_DATA_DIR, else ~/.totalsegmentator/serve)")
    p.add_argument("--workers", type=int, default=1, help="segmentation runs at the same time (default 1)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing weights")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.ui.config import DATA_DIR_ENV
    from totalseg.ui.launch import serve

    data_dir = args.data_dir or os.environ.get(DATA_DIR_ENV)
    if data_dir and not Path(data_dir).is_dir():
        raise InputError(f"--data-dir {data_dir}: not a folder; pass an existing folder of images")
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: not a TCP port; pass 1..65535")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: pass 1 or more")
    print(f"totalseg web app on http://{args.host}:{args.port} (Ctrl+C stops it)", file=sys.stderr)
    try:
        return serve(host=args.host, port=args.port, data_dir=Path(data_dir) if data_dir else None,
                     download=not args.no_download, workers=args.workers,
                     job_store=Path(args.job_store) if args.job_store else None)
    except ImportError as exc:
        print(f"totalseg: error: {exc}", file=sys.stderr)
        return 2
