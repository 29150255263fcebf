"""``totalseg mcp``: the MCP server (stdio, or streamable HTTP with ``--http``); see docs/mcp.md."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mcp", help="MCP server for AI assistants (stdio, or streamable HTTP with --http)",
        description="Serve the official TotalSegmentator MCP tools (list_all_tasks, list_all_classes, "
                    "get_class_options, get_task_details, get_modality, detect_contrast_phase, "
                    "run_segmentation) on this engine. Needs pip install 'totalseg[mcp]'.",
    )
    p.add_argument("--root", default=".", metavar="DIR",
                   help="outputs only under this folder (default the current directory)")
    p.add_argument("--http", action="store_true", help="streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="with --http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="with --http (default 8000)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from totalseg.mcp.server import build_server

    server = build_server(args.root)
    if not args.http:
        server.run("stdio")
        return 0
    import uvicorn

    uvicorn.run(server.streamable_http_app(), host=args.host, port=args.port, log_level="warning")
    return 0
