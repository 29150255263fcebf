"""The MCP tool ``estimate_body_statistics`` (the official server's eighth tool) through the SDK's
in-memory client, on a seeded model of the official format: the official parameters, and the answer
of the official code on the same model (tests/data/body_stats, benchmarks/body_stats_golden.py)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("mcp")
pytest.importorskip("monai")

from mcp import Client  # noqa: E402

from totalseg.mcp.server import build_server  # noqa: E402
from totalseg.measure.body_stats_model import MODEL_FOLDERS, ROOT_FOLDER  # noqa: E402
from totalseg.measure.body_stats_synthetic import write_synthetic_model  # noqa: E402

DATA = Path(__file__).parents[1] / "data"
GOLDEN = json.loads((DATA / "body_stats" / "official_results.json").read_text())["models"]["tiny_5_folds"]
OFFICIAL = GOLDEN["result"]


def _session(root: Path, work):
    async def go():
        async with Client(build_server(root)) as client:
            return await work(client)
    return asyncio.run(go())


def test_estimate_body_statistics_answers_as_the_official_tool(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    write_synthetic_model(weights / ROOT_FOLDER / MODEL_FOLDERS["ct"], GOLDEN["hparams"])  # the golden's model
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(weights))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))

    async def work(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        args = {"input_path": str(DATA / "ct_small_3mm.nii.gz"), "modality": "ct", "device": "cpu"}
        return tools["estimate_body_statistics"], await client.call_tool("estimate_body_statistics", args), \
            await client.call_tool("estimate_body_statistics", {**args, "modality": "pet"})

    tool, result, bad = _session(tmp_path, work)
    assert set(tool.input_schema["properties"]) == {"input_path", "modality", "device"}
    assert tool.input_schema["properties"]["modality"]["enum"] == ["ct", "mr"]
    assert not result.is_error, result.content
    content = result.structured_content
    assert set(content) == set(OFFICIAL)
    for target, entry in OFFICIAL.items():
        for key, value in entry.items():
            same = math.isclose(content[target][key], value, abs_tol=0.011) if isinstance(value, float) \
                else content[target][key] == value
            assert same, (target, key, content[target][key], value)
    assert bad.is_error


def test_missing_model_without_a_key_is_a_tool_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TOTALSEG_WEIGHTS_PATH", str(tmp_path / "weights"))
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("TOTALSEG_LICENSE_SERVER", "http://127.0.0.1:9")

    async def work(client):
        return await client.call_tool("estimate_body_statistics",
                                      {"input_path": str(DATA / "ct_small_3mm.nii.gz"), "modality": "mr"})

    result = _session(tmp_path, work)
    assert result.is_error and "needs a licence key" in result.content[0].text
    assert not (tmp_path / "weights").exists()  # refused before anything was written
