"""``totalseg serve``: the HTTP API (:mod:`totalseg.serve`) under uvicorn."""

from __future__ import annotations

import argparse

from totalseg.errors import InputError

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="HTTP API: submit images as jobs, fetch segmentations (needs totalseg[serve])",
        description="Serve segmentation jobs over HTTP with the models kept loaded: POST /jobs, GET /jobs/ID, "
                    "GET /jobs/ID/files/NAME, DELETE /jobs/ID, /health, /metrics (docs/serve.md).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--token", help="Bearer token clients must send; required unless the host is loopback")
    p.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="job store: DIR/jobs/<id>/ (kept across restarts), shared with totalseg dicom-node and "
                        "the web app (default $TOTALSEG_DATA_DIR, else ~/.totalsegmentator/serve)")
    p.add_argument("--workers", type=int, default=1, help="jobs run at the same time (default 1)")
    p.add_argument("--max-upload-mb", dest="max_upload_mb", type=float, default=2048,
                   help="largest upload, and largest a DICOM zip may expand to (default 2048)")
    p.add_argument("-d", "--device", default="cpu", help="cpu, gpu or gpu:N (default cpu)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.host not in _LOOPBACK and not args.token:
        raise InputError(f"--host {args.host} is reachable from other machines: give --token, or bind 127.0.0.1")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers}: expected 1 or more")
    try:
        import uvicorn
    except ImportError:
        raise InputError("totalseg serve needs: pip install 'totalseg[serve]'") from None
    from totalseg.serve.app import create_app
    from totalseg.settings import Settings, default_data_dir

    app = create_app(Settings.from_env(), args.data_dir or default_data_dir(), token=args.token,
                     n_workers=args.workers, max_upload_mb=args.max_upload_mb, device=args.device)
    uvicorn.run(app, host=args.host, port=args.port)
    return 0
