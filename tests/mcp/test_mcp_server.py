"""The MCP server through the SDK's in-memory client: the official tool names and result keys,
a segmentation equal to ``totalseg.segment``, outputs refused outside the root."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("mcp")

from mcp import Client  # noqa: E402

from totalseg.mcp.server import build_server  # noqa: E402
from totalseg.models.tasks import TASK_NAMES, catalog  # noqa: E402

CT = Path(__file__).parents[1] / "data" / "ct_small_3mm.nii.gz"
GOLDEN = Path(__file__).parents[1] / "data" / "mcp" / "official_tools.json"
OFFICIAL_TOOLS = {"list_all_tasks", "list_all_classes", "get_class_options", "get_task_details", "get_modality",
                  "detect_contrast_phase", "estimate_body_statistics", "run_segmentation"}


def call(root: Path, name: str, arguments: dict):
    """One tool call on a fresh server over the SDK's in-memory transport."""

    async def go():
        async with Client(build_server(root)) as client:
            return await client.call_tool(name, arguments)

    return asyncio.run(go())


def test_tools_are_the_official_ones(tmp_path):
    async def go():
        async with Client(build_server(tmp_path)) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = asyncio.run(go())
    assert OFFICIAL_TOOLS <= set(tools)
    params = set(tools["run_segmentation"].input_schema["properties"])
    assert params == {"input_path", "output_path", "task", "device", "speed", "roi_subset", "statistics"}


def test_tools_have_the_official_names_parameters_and_choices(tmp_path):
    """Golden: the official server's tool list (benchmarks/mcp_golden.py), all 8 tools."""
    async def go():
        async with Client(build_server(tmp_path)) as client:
            return (await client.list_tools()).tools

    ours = {t.name: {p: {k: v for k, v in schema.items() if k == "enum"}
                     for p, schema in t.input_schema["properties"].items()} for t in asyncio.run(go())}
    official = json.loads(GOLDEN.read_text())["tools"]
    assert len(official) == 8 and ours == official


def test_list_all_tasks_is_our_task_table(tmp_path):
    result = call(tmp_path, "list_all_tasks", {})
    assert not result.is_error
    content = result.structured_content
    rows = catalog()["tasks"]
    assert content["task_count"] == len(TASK_NAMES)
    for modality in ("ct", "mr"):
        assert content["tasks"][modality.upper()] == sorted(n for n in TASK_NAMES if rows[n]["modality"] == modality)


def test_catalogue_tools_answer_as_the_official_server(tmp_path):
    """Golden: the official MCP server's own answers (benchmarks/mcp_golden.py)."""
    official = json.loads(GOLDEN.read_text())
    for name in ("list_all_tasks", "list_all_classes"):
        assert call(tmp_path, name, {}).structured_content == official[name], name
    classes = sorted(official["get_class_options"])
    assert call(tmp_path, "get_class_options", {"class_names": classes}).structured_content == \
        official["get_class_options"]
    details = call(tmp_path, "get_task_details", {"task_names": TASK_NAMES}).structured_content
    assert set(details) == set(official["get_task_details"])
    for task, entry in official["get_task_details"].items():
        assert {key: details[task][key] for key in entry} == entry, task


def test_class_options_and_task_details(tmp_path):
    options = call(tmp_path, "get_class_options", {"class_names": ["liver"]}).structured_content
    assert "total" in options["liver"] and "total_mr" in options["liver"]
    details = call(tmp_path, "get_task_details", {"task_names": ["total_mr"]}).structured_content
    assert details["total_mr"]["modality"] == "MR" and details["total_mr"]["classes"]["5"] == "liver"
    bad = call(tmp_path, "get_task_details", {"task_names": ["no_such_task"]})
    assert bad.is_error and "unknown tasks ['no_such_task']" in bad.content[0].text


def test_run_segmentation_writes_what_segment_writes(tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tiny_weights))
    from totalseg.api import segment

    args = {"input_path": str(CT), "output_path": "seg", "task": "total", "device": "cpu", "speed": "fast"}
    result = call(tmp_path, "run_segmentation", args)
    assert not result.is_error, result.content
    content = result.structured_content
    assert content["status"] == "completed" and content["statistics_warning"]
    assert content["statistics_path"] == str(tmp_path / "seg" / "statistics.json")
    assert "liver" in json.loads((tmp_path / "seg" / "statistics.json").read_text())
    segment(CT, tmp_path / "ref", task="total", fast=True, higher_order_resampling=True, quiet=True)
    names = sorted(p.name for p in (tmp_path / "ref").glob("*.nii.gz"))
    assert len(names) == 117 and names == sorted(p.name for p in (tmp_path / "seg").glob("*.nii.gz"))
    voxels = 0
    for name in names:
        ours = np.asarray(nib.load(tmp_path / "seg" / name).dataobj)
        ref = np.asarray(nib.load(tmp_path / "ref" / name).dataobj)
        np.testing.assert_array_equal(ours, ref, err_msg=name)
        voxels += int(ref.sum())
    assert voxels > 0  # the tiny random models label something: the comparison is not of empty masks


@pytest.mark.parametrize("output", ["../outside", "/etc/totalseg_out", "seg/../../x"])
def test_output_outside_root_is_refused(tmp_path, output):
    root = tmp_path / "root"
    root.mkdir()
    args = {"input_path": str(CT), "output_path": output, "task": "total", "speed": "fast"}
    result = call(root, "run_segmentation", args)
    assert result.is_error
    assert "is outside the allowed root" in result.content[0].text
    assert not (tmp_path / "outside").exists() and not (tmp_path / "x").exists()


def test_missing_input_is_refused(tmp_path):
    result = call(tmp_path, "get_modality", {"input_path": str(tmp_path / "none.nii.gz")})
    assert result.is_error and "does not exist" in result.content[0].text


def test_cli_serves_over_stdio(tmp_path):
    import sys

    from mcp import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "totalseg", "mcp", "--root", str(tmp_path)])

    async def go():
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            return names, (await client.call_tool("list_all_tasks", {})).structured_content

    names, tasks = asyncio.run(go())
    assert OFFICIAL_TOOLS <= names and tasks["task_count"] == len(TASK_NAMES)
