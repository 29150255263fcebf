"""Dataset download against a local server that answers 503 and drops connections mid-transfer."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import totalseg.dataset.download as download_module
from totalseg.dataset.catalog import DATASETS, get_dataset_spec
from totalseg.dataset.download import MARKER, download_dataset
from totalseg.dataset.layout import open_dataset
from totalseg.dataset.synthetic import write_mock_dataset
from totalseg.errors import DownloadError, InputError


def zip_folder(folder: Path, top: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                zf.write(path, f"{top}/{rel}" if top else rel)
    return buf.getvalue()


class Server:
    """Serves one zip and the Zenodo record JSON; fails the first requests as told."""

    def __init__(self, files: dict[str, bytes], *, failures: int = 0, drops: int = 0, drop_after: int = 50_000):
        self.files, self.failures, self.drops, self.drop_after = files, failures, drops, drop_after
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.failures > 0:
                    server.failures -= 1
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                start = int(match[1]) if match else 0
                self.send_response(206 if match else 200)
                if match:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if server.drops > 0 and len(part) > server.drop_after:
                    server.drops -= 1
                    self.wfile.write(part[: server.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    return write_mock_dataset(tmp_path_factory.mktemp("src") / "ds", n_subjects=2, shape=(8, 8, 5), seed=3)


def test_v1_download_with_503_and_drops_then_idempotent(small_dataset, tmp_path):
    spec = get_dataset_spec("ct-v1")  # no md5 in the catalogue: read from the Zenodo record
    archive = zip_folder(small_dataset, top="Totalsegmentator_dataset")
    checksum = "md5:" + hashlib.md5(archive).hexdigest()
    record = {"files": [{"key": spec.filename, "size": len(archive), "checksum": checksum}]}
    files = {f"/records/{spec.record}/files/{spec.filename}": archive,
             f"/api/records/{spec.record}": json.dumps(record).encode()}
    root = tmp_path / "data"
    with Server(files, failures=2, drops=2, drop_after=len(archive) // 3) as server:
        result = download_dataset("ct-v1", root, base_url=server.url, progress=False, backoff_s=0.01)
        ranges = [r for p, r in server.requests if "/files/" in p]
        assert result.downloaded
        assert any(r and r != "bytes=0-" for r in ranges)  # resumed after a drop, not restarted
        n_requests = len(server.requests)
        again = download_dataset("ct-v1", root, base_url=server.url, progress=False)
        assert not again.downloaded and len(server.requests) == n_requests  # second run: no network
    assert sorted(p.name for p in root.iterdir()) == [MARKER, "meta.csv", "s0000", "s0001"]  # top folder stripped
    for path in small_dataset.rglob("*"):
        if path.is_file():
            assert (root / path.relative_to(small_dataset)).read_bytes() == path.read_bytes()
    assert len(open_dataset(root).subjects) == 2


def test_catalogued_md5_and_keep_zip(small_dataset, tmp_path, monkeypatch):
    archive = zip_folder(small_dataset)
    spec = dataclasses.replace(get_dataset_spec("ct-v2-small"), size_bytes=len(archive),
                               md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(DATASETS, "ct-v2-small", spec)
    with Server({f"/records/{spec.record}/files/{spec.filename}": archive}) as server:
        download_dataset("ct-v2-small", tmp_path, base_url=server.url, progress=False, keep_archive=True)
        assert [p for p, _ in server.requests] == [f"/records/{spec.record}/files/{spec.filename}?download=1"]
    assert (tmp_path / spec.filename).read_bytes() == archive and (tmp_path / "s0001" / "ct.nii.gz").is_file()


def test_md5_mismatch_extracts_nothing(small_dataset, tmp_path, monkeypatch):
    spec = get_dataset_spec("ct-v2")  # the real md5, which the mock archive does not have
    archive = zip_folder(small_dataset)
    monkeypatch.setitem(DATASETS, "ct-v2", dataclasses.replace(spec, size_bytes=len(archive)))
    with Server({f"/records/{spec.record}/files/{spec.filename}": archive}) as server:
        with pytest.raises(DownloadError, match="md5 .* differs from the expected fe250e57"):
            download_dataset("ct-v2", tmp_path, base_url=server.url, progress=False, backoff_s=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_free_space_is_checked_before_downloading(tmp_path, monkeypatch):
    free = dataclasses.make_dataclass("Usage", ["total", "used", "free"])(10**9, 0, 10**9)
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda _: free)
    with Server({}) as server:
        expected = r"not enough free space .* about 47\.2GB needed for the archive and its content, 1\.00GB free"
        with pytest.raises(DownloadError, match=expected):
            download_dataset("ct-v2", tmp_path, base_url=server.url, progress=False)
        assert server.requests == []


def test_archive_leaving_the_folder_is_refused(tmp_path, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("meta.csv", "image_id;split\n")
        zf.writestr("../escape.txt", "x")
    archive = buf.getvalue()
    spec = dataclasses.replace(get_dataset_spec("ct-v2-small"), size_bytes=len(archive),
                               md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(DATASETS, "ct-v2-small", spec)
    root = tmp_path / "data"
    with Server({f"/records/{spec.record}/files/{spec.filename}": archive}) as server:
        with pytest.raises(InputError, match="'..' component"):
            download_dataset("ct-v2-small", root, base_url=server.url, progress=False)
    assert not (tmp_path / "escape.txt").exists() and not (root / "meta.csv").exists()


def test_corrupt_archive_names_the_file(tmp_path, monkeypatch):
    archive = b"PK\x03\x04 this is not a whole zip archive" * 10
    spec = dataclasses.replace(get_dataset_spec("ct-v2-small"), size_bytes=len(archive),
                               md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(DATASETS, "ct-v2-small", spec)
    with Server({f"/records/{spec.record}/files/{spec.filename}": archive}) as server:
        with pytest.raises(InputError, match=f"{spec.filename}: not a zip archive or corrupt"):
            download_dataset("ct-v2-small", tmp_path / "data", base_url=server.url, progress=False)
    assert not (tmp_path / "data" / MARKER).exists()


def test_unknown_dataset_name():
    with pytest.raises(InputError, match="unknown dataset 'ct-v3'; use one of ct-v2, ct-v2-small, ct-v1, mri"):
        download_dataset("ct-v3", "unused")
