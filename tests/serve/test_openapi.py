from __future__ import annotations

import json
from pathlib import Path

from totalseg.serve.openapi import openapi_text

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _operations(spec: dict) -> dict:
    """Each path's methods with their parameter names and form fields: what a FastAPI upgrade keeps."""
    ops = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("multipart/form-data", {})
            ops[method, path] = (sorted(p["name"] for p in op.get("parameters", [])),
                                 sorted(body.get("schema", {}).get("properties", {})))
    return ops


def test_published_spec_is_current():
    published, current = PUBLISHED.read_text(encoding="utf-8"), openapi_text()
    stale = "docs/openapi.json is stale: python -m totalseg.serve.openapi docs/openapi.json"
    assert _operations(json.loads(published)) == _operations(json.loads(current)), stale
    if json.loads(published)["info"]["x-generated-by"] == json.loads(current)["info"]["x-generated-by"]:
        assert published == current, stale  # the same FastAPI writes the same text


def test_spec_lists_every_endpoint_and_upload_fields():
    spec = json.loads(openapi_text())
    assert set(spec["paths"]) == {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/files", "/jobs/{job_id}/files/{name}",
                                  "/health", "/metrics"}
    form = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert {"task", "fast", "roi_subset", "statistics", "qc"} <= set(form["properties"])
