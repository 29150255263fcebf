"""End to end: a CT series uploaded to a real Orthanc is forwarded by its Lua script
(tests/orthanc/) to ``totalseg dicom-node``, whose DICOM-SEG comes back into Orthanc; the SEG is
fetched through Orthanc's REST API and validated with dciodvfy.

Orthanc is the one ``.ci/run`` started (``TOTALSEG_ORTHANC_URL``) or one started here from the
``Orthanc`` binary (Debian's ``orthanc`` package); without the binary the test is skipped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pydicom = pytest.importorskip("pydicom")

CONFIG = Path(__file__).resolve().parents[1] / "orthanc" / "orthanc.json"
SERIES = Path(__file__).resolve().parents[1] / "data" / "dicom_ct_j2k"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")  # Debian's orthanc-dicomweb


def _http(url: str, data: bytes | None = None, method: str | None = None, timeout: float = 10):
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - loopback test server
        return reply.read()


def _system(url: str) -> dict | None:
    try:
        return json.loads(_http(f"{url}/system", timeout=2))
    except OSError:
        return None


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, free_port):
    """``(http url, dicom port)`` of an Orthanc running tests/orthanc/orthanc.json."""
    url = os.environ.get("TOTALSEG_ORTHANC_URL", "").rstrip("/")
    running = _system(url) if url else None
    if running is not None and running.get("Name") == "totalseg-test":
        yield url, int(running["DicomPort"])
        return
    binary = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
    if binary is None:
        pytest.skip("Orthanc not installed (Debian package orthanc) and TOTALSEG_ORTHANC_URL not set")
    storage = tmp_path_factory.mktemp("orthanc")
    http_port, dicom_port = free_port(), free_port()
    plugins = DICOMWEB_PLUGIN if DICOMWEB_PLUGIN.exists() else tmp_path_factory.mktemp("no-plugins")
    env = {**os.environ, "ORTHANC_STORAGE": str(storage), "ORTHANC_HTTP_PORT": str(http_port),
           "ORTHANC_DICOM_PORT": str(dicom_port), "TOTALSEG_NODE_PORT": "11112", "ORTHANC_PLUGINS": str(plugins)}
    with open(storage / "orthanc.log", "wb") as log:
        process = subprocess.Popen([binary, str(CONFIG)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while _system(url) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Orthanc did not start: {(storage / 'orthanc.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url, dicom_port
    process.terminate()
    process.wait(10)


def _upload_series(url: str, folder: Path) -> tuple[str, str, str]:
    """Upload the shared J2K series with fresh UIDs (its copy in tests/data has them blank);
    returns (study uid, series uid, frame of reference uid)."""
    from pydicom.uid import generate_uid

    study, series = generate_uid(), generate_uid()
    frame = ""
    for path in sorted(SERIES.iterdir()):
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study, series, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.PatientID, ds.PatientName = "TOTALSEG-E2E", "Test^Node"
        frame = str(ds.FrameOfReferenceUID)
        ds.save_as(folder / path.name, enforce_file_format=True)
        _http(f"{url}/instances", (folder / path.name).read_bytes(), method="POST")
    return study, series, frame


def _wait_for_seg(url: str, study: str, node, *, timeout_s: float, log: Path) -> str:
    query = json.dumps({"Level": "Instance", "Query": {"Modality": "SEG", "StudyInstanceUID": study}}).encode()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = json.loads(_http(f"{url}/tools/find", query, method="POST"))
        if found:
            return found[0]
        assert node.poll() is None, f"the DICOM node stopped: {log.read_text()[-2000:]}"
        time.sleep(0.5)
    raise AssertionError(f"no SEG in Orthanc after {timeout_s} s; the node's log: {log.read_text()[-2000:]}")


def test_orthanc_series_gets_its_seg_back(orthanc, tmp_path, free_port):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian dicom3tools) not installed")
    from totalseg.models.synthetic import write_random_weights
    from totalseg.serve.jobs import JobStore

    url, dicom_port = orthanc
    write_random_weights(tmp_path / "weights", [297], tiny=True, seed=0)
    port = free_port()
    modality = {"AET": "TOTALSEG", "Host": "127.0.0.1", "Port": port, "AllowEcho": True, "AllowStore": True}
    _http(f"{url}/modalities/totalseg", json.dumps(modality).encode(), method="PUT")
    env = {**os.environ, "TOTALSEG_WEIGHTS_PATH": str(tmp_path / "weights"), "TOTALSEG_HOME_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "totalseg", "dicom-node", "--data-dir", str(tmp_path / "data"),
               "--port", str(port), "--quiet-seconds", "1", "--task", "total", "--fast",
               "--send-to", f"127.0.0.1:{dicom_port}:ORTHANC"]
    with open(tmp_path / "node.log", "wb") as log:
        node = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    study = None
    try:
        _wait_listening(tmp_path, node)
        _http(f"{url}/modalities/totalseg/echo", b"{}", method="POST")  # Orthanc reaches the node (C-ECHO)
        (tmp_path / "series").mkdir()
        study, series, frame = _upload_series(url, tmp_path / "series")
        seg_id = _wait_for_seg(url, study, node, timeout_s=120, log=tmp_path / "node.log")  # ~30 s on an idle CPU
        (tmp_path / "seg.dcm").write_bytes(_http(f"{url}/instances/{seg_id}/file"))
    finally:
        node.send_signal(signal.SIGTERM)
        code = node.wait(20)
        _delete_study(url, study)
    log = (tmp_path / "node.log").read_text()
    result = subprocess.run(["dciodvfy", str(tmp_path / "seg.dcm")], capture_output=True, text=True, timeout=60)
    assert [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")] == []
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert seg.Modality == "SEG" and seg.StudyInstanceUID == study and seg.FrameOfReferenceUID == frame
    assert [str(s.SeriesInstanceUID) for s in seg.ReferencedSeriesSequence] == [series]
    assert code == 0, log
    [job] = JobStore(tmp_path / "data").all()  # one series, one job (the SEG was not forwarded back)
    assert job.status == "done" and job.source == "dicom-node" and job.meta["series_uid"] == series
    assert job.meta["instances"] == 20 and job.meta["delivery"]["status"] == "delivered"
    assert "sent segmentation_seg.dcm to ORTHANC@127.0.0.1" in log


def _wait_listening(tmp_path: Path, node, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while "listening as TOTALSEG" not in (tmp_path / "node.log").read_text():
        if node.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the DICOM node did not start: {(tmp_path / 'node.log').read_text()[-2000:]}")
        time.sleep(0.2)


def _delete_study(url: str, study: str | None) -> None:
    """Leave a shared Orthanc as it was."""
    if study is None:
        return
    query = json.dumps({"Level": "Study", "Query": {"StudyInstanceUID": study}}).encode()
    for orthanc_id in json.loads(_http(f"{url}/tools/find", query, method="POST")):
        _http(f"{url}/studies/{orthanc_id}", method="DELETE")


def test_stow_rs_into_orthanc(orthanc, tmp_path, ct_instance):
    """The STOW-RS sender against a real DICOMweb server (Orthanc's plugin)."""
    from pydicom.uid import generate_uid

    from totalseg.dicomnode.delivery import StowTarget, send

    url, _ = orthanc
    if b"dicom-web" not in _http(f"{url}/plugins"):
        pytest.skip("Orthanc's DICOMweb plugin is not loaded (Debian package orthanc-dicomweb)")
    study, series = generate_uid(), generate_uid()
    files = []
    for k in range(2):
        files.append(tmp_path / f"{k}.dcm")
        ct_instance(series, generate_uid(), study_uid=study).save_as(files[-1], enforce_file_format=True)
    try:
        send(files, StowTarget.parse(f"{url}/dicom-web"))
        query = json.dumps({"Level": "Instance", "Query": {"StudyInstanceUID": study}}).encode()
        assert len(json.loads(_http(f"{url}/tools/find", query, method="POST"))) == 2
    finally:
        _delete_study(url, study)
