"""Shared fixtures: the real CT from tests/data, synthetic volumes and seeded random weights."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.imaging.volume import Volume
from totalseg.models.synthetic import write_random_weights
from totalseg.models.tasks import all_models
from totalseg.settings import Settings

TEST_DATA = Path(__file__).resolve().parent / "data"
LICENSE_KEY = "aca_ABCDEFGH123456"  # a key the test licence server accepts


@pytest.fixture(scope="session")
def ct_small_path() -> Path:
    """The real 122x101x30 CT at 3 mm (see tests/data/README.md)."""
    return TEST_DATA / "ct_small_3mm.nii.gz"


@pytest.fixture(scope="session")
def ct_small(ct_small_path) -> Volume:
    img = nib.load(ct_small_path)
    return Volume(np.asanyarray(img.dataobj), affine=img.affine, header=img.header)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder in the official layout with tiny seeded random models for every task."""
    root = tmp_path_factory.mktemp("weights")
    write_random_weights(root, sorted(all_models()), tiny=True, seed=0)
    return root


@pytest.fixture(scope="session")
def tiny_settings(tiny_weights) -> Settings:
    return Settings(home_dir=tiny_weights.parent, weights_dir=tiny_weights)


@pytest.fixture(scope="session")
def make_phantom():
    """A function returning a CT-like int16 phantom of a given shape."""
    return phantom


def phantom(shape=(40, 36, 24), seed=0) -> np.ndarray:
    """A CT-like int16 phantom: air outside, soft tissue body, a few brighter and darker blobs."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    body = (grid[0] ** 2 + grid[1] ** 2) < 0.7
    img = np.where(body, 40, -1000).astype(np.float64)
    for _ in range(4):
        c = rng.uniform(-0.5, 0.5, 3)
        blob = ((grid - c[:, None, None, None]) ** 2).sum(0) < rng.uniform(0.02, 0.08)
        img[blob & body] = rng.choice([-600, 300, 900])
    img += rng.normal(0, 10, shape)
    return img.astype(np.int16)


class LicenseServer:
    """The official licence server's two endpoints: ``valid`` keys, a zip per licence task name,
    ``fail`` HTTP codes answered first; ``requests`` holds (path, JSON body) of each call."""

    def __init__(self, url: str):
        self.url, self.valid, self.zips, self.fail, self.requests = url, {LICENSE_KEY}, {}, [], []

    def serve(self, weights_dir: Path, spec) -> None:
        """Hand out ``spec``'s folder under ``weights_dir`` as the official zip, by its licence task name."""
        from totalseg.models.tasks import catalog

        self.zips[catalog()["models"][str(spec.model_id)]["license_task"]] = zip_of(weights_dir, spec)

    def answer(self, path: str, body: dict) -> tuple[int, str, bytes]:
        self.requests.append((path, body))
        if self.fail:
            return self.fail.pop(0), "application/json", b'{"message": "try later"}'
        valid = body.get("license_number") in self.valid
        if path == "/is_valid_license_number":
            status = "valid_license" if valid else "invalid_license"
            return 200, "application/json", json.dumps({"status": status}).encode()
        if not valid:
            return 401, "application/json", b'{"status": "invalid_license"}'
        if body.get("task") not in self.zips:
            return 404, "application/json", b'{"message": "unknown task"}'
        return 200, "application/octet-stream", self.zips[body["task"]]


@pytest.fixture
def license_server():
    """A licence server on 127.0.0.1 (see :class:`LicenseServer`), shut down after the test."""
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            code, kind, data = holder["server"].answer(self.path, body)
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = LicenseServer(f"http://127.0.0.1:{httpd.server_port}")
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    yield holder["server"]
    httpd.shutdown()
    httpd.server_close()


def zip_of(weights_dir: Path, spec) -> bytes:
    """The official licence-server zip of one model: ``<DatasetNNN_...>/<trainer>__.../...``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted((weights_dir / spec.folder).rglob("*")):
            zf.write(path, path.relative_to(weights_dir).as_posix())
    return buf.getvalue()
