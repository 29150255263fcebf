"""Schemathesis against the published spec (docs/openapi.json): generated requests to every operation,
valid and invalid ones, with the token, answered in-process by the app (ASGI); no 5xx, and every
answer conforms to the spec (status codes, content types, bodies, auth)."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from totalseg.serve.app import create_app  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
AUTH = {"Authorization": "Bearer s3cret"}
BASE_URL = "http://testserver"
LABELS = sorted(result.ok().label for result in schemathesis.openapi.from_path(SPEC).get_all_operations())


def _operation(label: str, app):
    """The published spec's operation ``label``, its requests sent to ``app`` in-process."""
    loaded = schemathesis.openapi.from_path(SPEC)
    loaded.app = app
    return next(op for op in (result.ok() for result in loaded.get_all_operations()) if op.label == label)


# Invalid requests of every operation that takes input (GET /health takes none).
CASES = [(label, mode) for label in LABELS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if not (label == "GET /health" and mode == GenerationMode.NEGATIVE)]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_answers_conform_to_published_spec(label, mode, tiny_settings, tmp_path):
    app = create_app(tiny_settings, tmp_path / "data", token="s3cret", start_workers=False, max_upload_mb=1)
    operation = _operation(label, app)
    # A schema-valid upload is any bytes; only an image is accepted, which a spec cannot say.
    excluded = [positive_data_acceptance] if label == "POST /jobs" else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(base_url=BASE_URL, headers=AUTH)
        assert response.status_code < 500, f"{label}: {response.status_code} {response.text}"
        case.validate_response(response, headers=AUTH, excluded_checks=excluded,
                               transport_kwargs={"base_url": BASE_URL})

    check()


def test_answers_about_a_real_job_conform_to_published_spec(tiny_settings, tmp_path, wait_done):
    """A job that ran (tiny weights): its status, file list, a result file and its deletion, each
    answer checked against the spec (generated ids never name a real job)."""
    from fastapi.testclient import TestClient

    app = create_app(tiny_settings, tmp_path / "data", token="s3cret", start_workers=True)
    ct = Path(__file__).resolve().parents[1] / "data" / "ct_small_3mm.nii.gz"
    with TestClient(app) as client:
        reply = client.post("/jobs", headers=AUTH, data={"task": "total", "fast": "true", "ml": "false",
                                                         "statistics": "true"},
                            files={"file": ("ct.nii.gz", ct.read_bytes())})
        assert reply.status_code == 201, reply.text
        job_id = reply.json()["id"]
        assert wait_done(client, job_id)["status"] == "done"
    app = create_app(tiny_settings, tmp_path / "data", token="s3cret", start_workers=False)  # the same store
    names = ["masks.zip", "segmentation.nii.gz", "statistics.json"]
    calls = [("GET /jobs/{job_id}", {"job_id": job_id}), ("GET /jobs/{job_id}/files", {"job_id": job_id}),
             *[("GET /jobs/{job_id}/files/{name}", {"job_id": job_id, "name": name}) for name in names],
             ("DELETE /jobs/{job_id}", {"job_id": job_id}), ("GET /jobs/{job_id}", {"job_id": job_id})]
    answers = []
    for label, params in calls:
        case = _operation(label, app).Case(path_parameters=params)
        response = case.call(base_url=BASE_URL, headers=AUTH)
        case.validate_response(response, headers=AUTH, transport_kwargs={"base_url": BASE_URL})
        answers.append(response.status_code)
        if label == "GET /jobs/{job_id}/files":
            assert response.json() == names
    assert answers == [200, 200, 200, 200, 200, 204, 404]
