from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_command_answers_over_http(tmp_path, tiny_weights):
    port = _free_port()
    env = {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(tiny_weights), "TOTALSEG_HOME_DIR": str(tiny_weights.parent)}
    server = subprocess.Popen([sys.executable, "-m", "totalseg", "serve", "--port", str(port), "--token", "t0k",
                               "--data-dir", str(tmp_path / "data")], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 25
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stderr.read().decode()) from None
                time.sleep(0.2)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert _get(f"http://127.0.0.1:{port}/metrics")[0] == 401
        assert _get(f"http://127.0.0.1:{port}/metrics", "t0k")[0] == 200
        assert (tmp_path / "data" / "jobs").is_dir()
    finally:
        server.terminate()
        server.wait(timeout=15)
