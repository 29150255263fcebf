from __future__ import annotations

import json
from pathlib import Path

from totalseg.serve.openapi import openapi_text

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_published_spec_is_current():
    assert PUBLISHED.read_text(encoding="utf-8") == openapi_text(), \
        "docs/openapi.json is stale: python -m totalseg.serve.openapi docs/openapi.json"


def test_spec_lists_every_endpoint_and_upload_fields():
    spec = json.loads(openapi_text())
    assert set(spec["paths"]) == {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/files", "/jobs/{job_id}/files/{name}",
                                  "/health", "/metrics"}
    form = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert {"task", "fast", "roi_subset", "statistics", "qc"} <= set(form["properties"])
