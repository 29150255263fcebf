from __future__ import annotations

import email.parser
import email.policy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from totalseg.dicomnode.delivery import CStoreTarget, DeliveryError, StowTarget, send


@pytest.fixture
def two_files(tmp_path, ct_instance):
    paths = []
    for k in (1, 2):
        path = tmp_path / f"i{k}.dcm"
        ct_instance("1.2.3.4", f"1.2.3.4.{k}").save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def stow_server():
    """A DICOMweb STOW-RS receiver on 127.0.0.1: keeps each request; answers ``.status``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server.requests.append((self.path, dict(self.headers), body))
            self.send_response(server.status)
            self.send_header("Content-Type", "application/dicom+json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _parts(headers: dict, body: bytes) -> list[tuple[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    return [(part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_parts()]


def test_stow_rs_posts_every_file_as_one_multipart_request(stow_server, two_files):
    url = f"http://127.0.0.1:{stow_server.server_address[1]}/dicom-web"
    send(two_files, StowTarget.parse(url, "t0ken"))
    [(path, headers, body)] = stow_server.requests
    assert path == "/dicom-web/studies"
    assert headers["Content-Type"].startswith('multipart/related; type="application/dicom"; boundary=')
    assert headers["Authorization"] == "Bearer t0ken"
    assert _parts(headers, body) == [("application/dicom", p.read_bytes()) for p in two_files]


@pytest.mark.parametrize("status", [409, 500, 202])
def test_stow_rs_refusal_is_one_line(stow_server, two_files, status):
    stow_server.status = status
    with pytest.raises(DeliveryError, match=rf"^STOW-RS to http://127.0.0.1:\d+/studies: HTTP {status}") as info:
        send(two_files, StowTarget.parse(f"http://127.0.0.1:{stow_server.server_address[1]}"))
    assert "\n" not in str(info.value)


def test_stow_rs_unreachable(two_files, free_port):
    with pytest.raises(DeliveryError, match="STOW-RS to .*check --stow-url"):
        send(two_files, StowTarget.parse(f"http://127.0.0.1:{free_port()}/dicom-web"), timeout_s=5)


def test_c_store_sends_every_file(storage_scp, two_files):
    send(two_files, CStoreTarget.parse(f"127.0.0.1:{storage_scp.port}:RECEIVER"), calling_ae="MYNODE")
    assert [str(ds.SOPInstanceUID) for ds in storage_scp.received] == ["1.2.3.4.1", "1.2.3.4.2"]
    assert storage_scp.calling == ["MYNODE", "MYNODE"]


def test_c_store_unreachable_or_refused(two_files, free_port, storage_scp, ct_instance, tmp_path):
    with pytest.raises(DeliveryError, match="association not established"):
        send(two_files, CStoreTarget.parse(f"127.0.0.1:{free_port()}:NOBODY"), timeout_s=5)
    mr = tmp_path / "mr.dcm"  # a SOP class the receiver does not accept
    ct_instance("1.2.3.5", "1.2.3.5.1", sop_class="1.2.840.10008.5.1.4.1.1.4").save_as(mr, enforce_file_format=True)
    with pytest.raises(DeliveryError, match="association not established|C-STORE of mr.dcm"):
        send([mr], CStoreTarget.parse(f"127.0.0.1:{storage_scp.port}:RECEIVER"), timeout_s=5)


@pytest.mark.parametrize("text", ["host:4242", "host:0:AE", "host:99999:AE", ":4242:AE", "host:4242:" + "A" * 17])
def test_bad_send_to(text):
    from totalseg.errors import InputError

    with pytest.raises(InputError, match="expected HOST:PORT:AET"):
        CStoreTarget.parse(text)
