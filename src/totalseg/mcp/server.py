"""Build the MCP server (official MCP Python SDK, ``pip install 'totalseg[mcp]'``) from the tools."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Literal

from totalseg.errors import InputError
from totalseg.mcp import tools
from totalseg.mcp.paths import Workspace

INSTRUCTIONS = (
    "Anatomical segmentation of CT and MR images (TotalSegmentator tasks): modality detection, contrast "
    "phase, body statistics estimates, segmentation with per-structure statistics. Use exact task and class "
    "names from list_all_tasks, list_all_classes, get_class_options and get_task_details; never invent them. "
    "Output paths must lie under the server's root folder ({root}).")

Device = Literal["gpu", "cpu", "mps"]
Modality = Literal["ct", "mr"]
Speed = Literal["standard", "fast", "fastest"]


def build_server(root: str | Path = ".") -> Any:
    """An ``MCPServer`` offering the official TotalSegmentator MCP tools; outputs only under ``root``.

    Examples:
        >>> server = build_server(".")  # doctest: +SKIP
        >>> server.run("stdio")  # doctest: +SKIP
    """
    try:
        from mcp.server import MCPServer
    except ImportError as exc:
        raise InputError("the MCP server needs the mcp package; install it with pip install 'totalseg[mcp]'") from exc
    workspace = Workspace(Path(root))
    server = MCPServer("TotalSegmentator", instructions=INSTRUCTIONS.format(root=workspace.root))
    _add_catalog_tools(server)
    _add_image_tools(server, workspace)
    return server


async def _run(fn: Any, *args: Any) -> Any:
    """Run a tool function in a worker thread; a bad request becomes a tool error with its message."""
    from anyio import to_thread
    from mcp.server.mcpserver.exceptions import ToolError

    from totalseg.errors import TotalsegError

    try:
        return await to_thread.run_sync(partial(fn, *args))
    except TotalsegError as exc:
        raise ToolError(str(exc)) from exc


def _add_catalog_tools(server: Any) -> None:
    """The tools that describe tasks and classes."""

    async def list_all_tasks() -> dict[str, object]:
        """Every task name grouped by modality (CT, MR); use these exact names."""
        return await _run(tools.list_all_tasks)

    async def list_all_classes() -> dict[str, object]:
        """Every output class name grouped by modality."""
        return await _run(tools.list_all_classes)

    async def get_class_options(class_names: list[str]) -> dict[str, list[str]]:
        """For each exact class name, the tasks that output it."""
        return await _run(tools.get_class_options, class_names)

    async def get_task_details(task_names: list[str]) -> dict[str, object]:
        """Each task's modality, classes, licence requirement, models, voxel size, crop and steps."""
        return await _run(tools.get_task_details, task_names)

    for fn in (list_all_tasks, list_all_classes, get_class_options, get_task_details):
        server.add_tool(fn)


def _add_image_tools(server: Any, workspace: Workspace) -> None:
    """The tools that read images (in a worker thread, so the server keeps answering)."""

    async def get_modality(input_path: str) -> dict[str, str]:
        """Predict whether a NIfTI/DICOM image is CT or MR (returns only ``modality``)."""
        return await _run(tools.get_modality, workspace, input_path)

    async def detect_contrast_phase(input_path: str, device: Device = "cpu") -> dict[str, object]:
        """Estimate the contrast phase of a CT (runs the total --fast model; a model estimate)."""
        return await _run(tools.detect_contrast_phase, workspace, input_path, device)

    async def estimate_body_statistics(input_path: str, modality: Modality,
                                       device: Device = "cpu") -> dict[str, object]:
        """Estimate body weight, height, age, sex, BMI and body surface area from a CT or MR (NIfTI or
        DICOM ZIP). These are model-derived estimates, not verified patient demographics, and more
        reliable for scans with a large anatomical field of view."""
        return await _run(tools.estimate_body_statistics, workspace, input_path, modality, device)

    async def run_segmentation(input_path: str, output_path: str, task: str, device: Device = "cpu",
                               speed: Speed = "standard", roi_subset: list[str] | None = None,
                               statistics: bool = True) -> dict[str, object]:
        """Segment an image with a task into a mask folder under the server root.

        speed: standard (1.5 mm models), fast (3 mm, higher-order upsampling) or fastest (6 mm).
        roi_subset: only these exact class names. statistics: write statistics.json (volume and
        mean intensity per structure, including structures cut by the scan border).
        """
        return await _run(tools.run_segmentation, workspace, input_path, output_path, task, device, speed,
                          roi_subset, statistics)

    for fn in (get_modality, detect_contrast_phase, estimate_body_statistics, run_segmentation):
        server.add_tool(fn)
