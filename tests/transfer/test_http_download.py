"""Downloads against a local HTTP server whose failures the test controls."""

from __future__ import annotations

import doctest
import hashlib
import random
import re
import threading
import time
from collections import namedtuple
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import totalseg.transfer.download as download_module
from totalseg.errors import DownloadError
from totalseg.transfer.download import download

DATA = random.Random(0).randbytes(300_000)
MD5 = hashlib.md5(DATA).hexdigest()


@dataclass
class Behaviour:
    """What the server does; counters run down per request."""

    data: bytes = DATA
    fail_status: int = 503
    failures: int = 0  # answer fail_status this many times first
    retry_after: str | None = None
    drops: int = 0  # cut this many responses short ...
    drop_after: int = 100_000  # ... after this many body bytes
    stalls: int = 0  # send 1000 bytes, then stall this many responses
    ignore_range: bool = False
    ranges: list = field(default_factory=list)  # the Range header of every request (None if absent)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        b: Behaviour = self.server.behaviour
        b.ranges.append(self.headers.get("Range"))
        if self.path != "/file.bin":
            return self._empty(404)
        if b.failures > 0:
            b.failures -= 1
            return self._empty(b.fail_status, {"Retry-After": b.retry_after} if b.retry_after else {})
        start = self._range_start(b)
        if start is None:
            return None
        body = b.data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._send_body(b, body)

    def _range_start(self, b: Behaviour) -> int | None:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match is None or b.ignore_range:
            self.send_response(200)
            return 0
        start = int(match[1])
        if start >= len(b.data):
            self._empty(416, {"Content-Range": f"bytes */{len(b.data)}"})
            return None
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(b.data) - 1}/{len(b.data)}")
        return start

    def _send_body(self, b: Behaviour, body: bytes) -> None:
        if b.stalls > 0:
            b.stalls -= 1
            self.wfile.write(body[:1000])
            self.wfile.flush()
            time.sleep(0.5)
            return
        if b.drops > 0:
            b.drops -= 1
            body = body[: b.drop_after]
        self.wfile.write(body)

    def _empty(self, status: int, headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


Server = namedtuple("Server", "url behaviour")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.behaviour = Behaviour()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{httpd.server_port}/file.bin", httpd.behaviour)
    httpd.shutdown()
    httpd.server_close()


def fetch(url, dest, **kw):
    kw = {"progress": False, "backoff_s": 0.001, "timeout_s": 5, **kw}
    return download(url, dest, **kw)


def part_of(dest):
    return dest.with_name(dest.name + ".part")


def test_downloads_whole_file_and_renames_part(server, tmp_path):
    dest = tmp_path / "sub" / "file.bin"
    assert fetch(server.url, dest, expected_md5=MD5, expected_size=len(DATA)) == dest
    assert dest.read_bytes() == DATA
    assert not part_of(dest).exists()
    assert server.behaviour.ranges == [None]


def test_existing_verified_file_needs_no_network(server, tmp_path):
    dest = tmp_path / "file.bin"
    fetch(server.url, dest, expected_md5=MD5)
    fetch(server.url, dest, expected_md5=MD5)
    fetch(server.url, dest)
    assert server.behaviour.ranges == [None]


def test_existing_wrong_file_is_downloaded_again(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"stale")
    fetch(server.url, dest, expected_md5=MD5)
    assert dest.read_bytes() == DATA


def test_dropped_connections_resume_with_range(server, tmp_path):
    server.behaviour.drops = 2
    dest = tmp_path / "file.bin"
    fetch(server.url, dest, expected_md5=MD5, retries=0)  # progress made: no retry is used up
    assert server.behaviour.ranges == [None, "bytes=100000-", "bytes=200000-"]
    assert hashlib.md5(dest.read_bytes()).hexdigest() == MD5


def test_part_left_by_earlier_run_is_resumed_and_hashed(server, tmp_path):
    dest = tmp_path / "file.bin"
    part_of(dest).write_bytes(DATA[:123_456])
    fetch(server.url, dest, expected_md5=MD5)
    assert server.behaviour.ranges == ["bytes=123456-"]
    assert dest.read_bytes() == DATA


def test_stalled_read_times_out_and_resumes(server, tmp_path):
    server.behaviour.stalls = 1
    dest = tmp_path / "file.bin"
    fetch(server.url, dest, expected_md5=MD5, timeout_s=0.1)
    assert server.behaviour.ranges == [None, "bytes=1000-"]
    assert dest.read_bytes() == DATA


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.behaviour.ignore_range = True
    dest = tmp_path / "file.bin"
    part_of(dest).write_bytes(b"\0" * 5000)  # wrong bytes: only a restart gives the right file
    fetch(server.url, dest, expected_md5=MD5)
    assert server.behaviour.ranges == ["bytes=5000-"]
    assert dest.read_bytes() == DATA


def test_complete_part_is_finished_after_416(server, tmp_path):
    dest = tmp_path / "file.bin"
    part_of(dest).write_bytes(DATA)
    fetch(server.url, dest, expected_md5=MD5)
    assert server.behaviour.ranges == [f"bytes={len(DATA)}-"]
    assert dest.read_bytes() == DATA and not part_of(dest).exists()


def test_5xx_and_429_are_retried(server, tmp_path):
    server.behaviour.failures = 3
    dest = tmp_path / "file.bin"
    fetch(server.url, dest, expected_md5=MD5, retries=3)
    assert len(server.behaviour.ranges) == 4 and dest.read_bytes() == DATA
    server.behaviour.fail_status, server.behaviour.failures = 429, 1
    fetch(server.url, tmp_path / "again.bin", expected_md5=MD5)
    assert (tmp_path / "again.bin").read_bytes() == DATA


def test_small_retry_after_replaces_backoff(server, tmp_path):
    server.behaviour.failures, server.behaviour.retry_after = 2, "0"
    start = time.perf_counter()
    fetch(server.url, tmp_path / "file.bin", backoff_s=30)  # 30 s backoff would time the test out
    assert time.perf_counter() - start < 5


def test_backoff_doubles_and_is_capped():
    waits = [download_module._wait_s(None, backoff_s=1.0, failures=n) for n in (1, 2, 3, 10)]
    assert waits == [1.0, 2.0, 4.0, download_module.MAX_BACKOFF_S]
    assert download_module._wait_s(7.0, backoff_s=1.0, failures=1) == 7.0
    assert download_module._wait_s(3600.0, backoff_s=1.0, failures=1) == 1.0  # too long: ignored


def test_gives_up_after_retries_without_final_file(server, tmp_path):
    server.behaviour.failures = 100
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=r"failed 3 times in a row \(last: HTTP 503\).*run the same command"):
        fetch(server.url, dest, retries=2)
    assert len(server.behaviour.ranges) == 3
    assert not dest.exists()


def test_404_fails_at_once_naming_url_and_status(server, tmp_path):
    url = server.url.replace("file.bin", "missing.zip")
    with pytest.raises(DownloadError, match=rf"{re.escape(url)}: HTTP 404"):
        fetch(url, tmp_path / "missing.zip")
    assert len(server.behaviour.ranges) == 1
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_is_retried_then_reported(tmp_path):
    with pytest.raises(DownloadError, match="failed 2 times in a row"):
        fetch("http://127.0.0.1:9/nothing.zip", tmp_path / "x.zip", retries=1)


def test_md5_mismatch_removes_the_partial_file(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=f"md5 {MD5} differs from the expected 0+; .*run the same command"):
        fetch(server.url, dest, expected_md5="0" * 32)
    assert not dest.exists() and not part_of(dest).exists()


def test_size_mismatch_with_server_is_refused(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=f"has {len(DATA)} bytes but 10 were expected"):
        fetch(server.url, dest, expected_size=10)
    assert not dest.exists()


def test_too_little_free_space_is_refused_before_writing(server, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda _: usage(10**6, 10**6 - 1000, 1000))
    dest = tmp_path / "file.bin"
    with pytest.raises(DownloadError, match=r"not enough free space in .*300kB needed, 1\.00kB free"):
        fetch(server.url, dest)
    assert not dest.exists() and not part_of(dest).exists()


def test_docstring_examples():
    assert doctest.testmod(download_module).failed == 0


def test_progress_bar_names_the_file(server, tmp_path, capsys):
    fetch(server.url, tmp_path / "file.bin", progress=True)
    assert "file.bin" in capsys.readouterr().err


def test_unresolvable_host_fails_at_once(tmp_path, monkeypatch):
    import socket
    import urllib.error

    calls = []

    def no_dns(request, timeout):
        calls.append(request.full_url)
        raise urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))

    monkeypatch.setattr(download_module.urllib.request, "urlopen", no_dns)
    monkeypatch.setattr(download_module.time, "sleep", lambda s: pytest.fail("an offline machine must not back off"))
    with pytest.raises(DownloadError, match=r"cannot resolve weights\.example\.org .*check the network connection"):
        download("https://weights.example.org/model.zip", tmp_path / "model.zip", progress=False)
    assert len(calls) == 1 and not (tmp_path / "model.zip").exists()
