"""``totalseg dicom-node``: a DICOM SCP that segments each received series and sends the DICOM-SEG
back (:mod:`totalseg.dicomnode`)."""

from __future__ import annotations

import argparse
import logging
import signal

from totalseg.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dicom-node", help="DICOM node: receive series by C-STORE, send DICOM-SEG back (needs totalseg[node])",
        description="Receive CT/MR series by C-STORE, segment each series once no instance arrived for "
                    "--quiet-seconds, and send the DICOM-SEG (and RTSTRUCT) back by C-STORE or STOW-RS. "
                    "Jobs live in the job store of --data-dir, shared with `totalseg serve` (docs/dicom-node.md).",
    )
    p.add_argument("--data-dir", dest="data_dir", metavar="DIR",
                   help="job store (shared with `totalseg serve` and the web app) and received instances, kept "
                        "across restarts (default $TOTALSEG_DATA_DIR, else ~/.totalsegmentator/serve)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=11112, help="DICOM port (default 11112)")
    p.add_argument("--aet", default="TOTALSEG", help="this node's AE title (default TOTALSEG)")
    p.add_argument("--quiet-seconds", dest="quiet_seconds", type=float, default=10.0, metavar="S",
                   help="a series is complete once no instance arrived for S seconds (default 10)")
    p.add_argument("-ta", "--task", default=None, metavar="TASK",
                   help="task of every job (default: total for CT, total_mr for MR)")
    p.add_argument("-f", "--fast", action="store_true", help="3 mm model")
    p.add_argument("-rs", "--roi_subset", nargs="+", metavar="CLASS", help="only these classes")
    p.add_argument("--rtstruct", action="store_true", help="send an RTSTRUCT as well as the DICOM-SEG")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--send-to", dest="send_to", metavar="HOST:PORT:AET",
                       help="C-STORE results to this DICOM node (e.g. the PACS that sent the series)")
    where.add_argument("--stow-url", dest="stow_url", metavar="URL",
                       help="STOW-RS results to this DICOMweb base URL (e.g. http://pacs:8042/dicom-web)")
    p.add_argument("--stow-token", dest="stow_token", metavar="TOKEN", help="Bearer token for --stow-url")
    p.add_argument("--workers", type=int, default=1, help="jobs run at the same time (default 1)")
    p.add_argument("-d", "--device", default="cpu", help="cpu, gpu or gpu:N (default cpu)")
    p.set_defaults(handler=run)


def node_config(args: argparse.Namespace):
    """The :class:`~totalseg.dicomnode.node.NodeConfig` of parsed arguments, checked."""
    from totalseg.dicomnode.delivery import CStoreTarget, StowTarget
    from totalseg.dicomnode.node import NodeConfig
    from totalseg.models.tasks import get_task

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: expected 1-65535")
    if not 1 <= len(args.aet.strip()) <= 16 or "\\" in args.aet:
        raise InputError(f"--aet {args.aet!r}: expected 1-16 characters")
    if args.quiet_seconds < 0 or args.workers < 1:
        raise InputError("--quiet-seconds must be 0 or more and --workers 1 or more")
    if args.stow_token and not args.stow_url:
        raise InputError("--stow-token needs --stow-url")
    if args.task is not None:
        get_task(args.task, "fast" if args.fast else "full")  # an unknown task fails now, not per series
    options = {"ml": True, "output_type": ["dicom_seg", "dicom_rtstruct"] if args.rtstruct else ["dicom_seg"]}
    options.update({k: v for k, v in (("task", args.task), ("fast", args.fast or None),
                                      ("roi_subset", args.roi_subset)) if v})
    target = (CStoreTarget.parse(args.send_to) if args.send_to else
              StowTarget.parse(args.stow_url, args.stow_token) if args.stow_url else None)
    return NodeConfig(ae_title=args.aet.strip(), host=args.host, port=args.port, quiet_s=args.quiet_seconds,
                      options=options, target=target)


def run(args: argparse.Namespace) -> int:
    try:
        import pynetdicom  # noqa: F401
    except ImportError:
        raise InputError("totalseg dicom-node needs: pip install 'totalseg[node]'") from None
    from totalseg.dicomnode.node import DicomNode
    from totalseg.settings import Settings, default_data_dir

    config = node_config(args)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s totalseg dicom-node: %(message)s")
    logging.getLogger("totalseg.dicomnode").setLevel(logging.INFO)  # pynetdicom and highdicom: warnings only
    node = DicomNode(args.data_dir or default_data_dir(), config, settings=Settings.from_env(),
                     n_workers=args.workers, device=args.device)
    try:
        node.start()
    except OSError as exc:
        raise InputError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
                         "choose another --port or --host") from None
    signal.signal(signal.SIGTERM, lambda *_: node.stop_soon())
    try:
        node.wait()
    finally:
        node.stop()
    return 0
