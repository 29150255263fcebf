from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from totalseg.serve.app import create_app  # noqa: E402

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "serve-data"


@pytest.fixture
def make_client(tiny_settings, data_dir):
    """A client of an app on ``data_dir`` (workers running inside the ``with`` block)."""
    def make(**kwargs) -> TestClient:
        kwargs.setdefault("token", TOKEN)
        return TestClient(create_app(tiny_settings, data_dir, **kwargs))
    return make


@pytest.fixture
def wait_done():
    """A function polling a job until it is done or failed."""
    return _wait_done


def _wait_done(client: TestClient, job_id: str, timeout_s: float = 25.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.get(f"/jobs/{job_id}", headers=AUTH).json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {state} after {timeout_s} s")
