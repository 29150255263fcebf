"""The node's loop without models: C-STORE in, series to job, delivery recorded, restart behaviour."""

from __future__ import annotations

import logging
import time

import pytest

from totalseg.dicomnode.delivery import CStoreTarget
from totalseg.dicomnode.node import DicomNode, NodeConfig
from totalseg.settings import Settings


def _node(tmp_path, port: int, **config) -> DicomNode:
    settings = Settings(home_dir=tmp_path / "home", weights_dir=tmp_path / "weights")
    return DicomNode(tmp_path / "data", NodeConfig(port=port, **config), settings=settings)


def _c_store(port: int, datasets, *, calling: str = "SCANNER") -> list[int]:
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    for sop_class in {str(ds.SOPClassUID) for ds in datasets}:
        ae.add_requested_context(sop_class, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", port, ae_title="TOTALSEG")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def _done_job(node: DicomNode, ct_instance, *, status: str = "done") -> str:
    """A finished dicom-node job with a DICOM output whose delivery is pending (as a stopped node left it)."""
    job_id = node.store.new_folder()
    outputs = node.store.folder(job_id) / "outputs"
    outputs.mkdir()
    ct_instance("9.8.7", "9.8.7.1").save_as(outputs / "segmentation_seg.dcm", enforce_file_format=True)
    node._submit(job_id, {"series_uid": "1.2.3.1", "study_uid": "1.2.3"}, 3)
    node.store.update(job_id, status=status, progress=1.0, error="boom" if status == "failed" else None)
    return job_id


def test_c_store_series_becomes_one_job_after_the_quiet_period(tmp_path, free_port, ct_instance):
    options = {"task": "total", "fast": True, "output_type": ["dicom_seg"]}
    node = _node(tmp_path, free_port(), quiet_s=5, options=options)
    node.listen()
    try:
        statuses = _c_store(node.config.port, [ct_instance("1.2.3.1", f"1.2.3.1.{k}") for k in range(3)]
                            + [ct_instance("1.2.3.2", "1.2.3.2.1")])
    finally:
        node.stop()
    assert statuses == [0, 0, 0, 0]
    node.step()
    assert node.store.all() == []  # still in the quiet period
    node.step(now=time.time() + 6)
    jobs = sorted(node.store.all(), key=lambda j: j.meta["instances"])
    assert [j.meta["instances"] for j in jobs] == [1, 3]
    job = jobs[1]
    assert job.status == "queued" and job.source == "dicom-node" and job.input_name == "dicom"
    assert job.options == {"task": "total", "fast": True, "output_type": ["dicom_seg"]}
    assert job.meta["series_uid"] == "1.2.3.1" and job.meta["calling_ae"] == "SCANNER"
    assert job.meta["delivery"]["status"] == "pending"
    received = sorted(p.name for p in (node.store.folder(job.id) / "input" / "dicom").glob("*.dcm"))
    assert received == ["1.2.3.1.0.dcm", "1.2.3.1.1.dcm", "1.2.3.1.2.dcm"]
    assert node.inbox.collecting() == []


def test_scp_refuses_an_instance_without_series_uid(tmp_path, free_port, ct_instance):
    node = _node(tmp_path, free_port())
    node.listen()
    try:
        assert _c_store(node.config.port, [ct_instance("", "1.2.3.1.1")]) == [0xC000]
    finally:
        node.stop()
    assert node.inbox.collecting() == []


def test_restart_delivers_a_done_but_undelivered_job(tmp_path, storage_scp, ct_instance, free_port):
    job_id = _done_job(_node(tmp_path, free_port()), ct_instance)  # the node stopped before delivering
    restarted = _node(tmp_path, free_port(), target=CStoreTarget("127.0.0.1", storage_scp.port, "RECEIVER"))
    restarted.step()
    assert [str(ds.SOPInstanceUID) for ds in storage_scp.received] == ["9.8.7.1"]
    delivery = restarted.store.get(job_id).meta["delivery"]
    assert delivery["status"] == "delivered" and delivery["target"] == f"RECEIVER@127.0.0.1:{storage_scp.port}"
    assert restarted.store.get(job_id).meta["series_uid"] == "1.2.3.1"  # the rest of meta kept
    restarted.step()
    assert len(storage_scp.received) == 1  # sent once


def test_failed_delivery_is_retried_then_recorded(tmp_path, ct_instance, free_port, caplog):
    target = CStoreTarget("127.0.0.1", free_port(), "NOBODY")
    node = _node(tmp_path, free_port(), target=target, max_attempts=2, retry_s=60)
    job_id = _done_job(node, ct_instance)
    with caplog.at_level(logging.ERROR, logger="totalseg.dicomnode"):
        node.step()
        node.step()  # within the retry wait: not tried again
        assert node.store.get(job_id).meta["delivery"]["attempts"] == 1
        node.step(now=time.time() + 61)
    delivery = node.store.get(job_id).meta["delivery"]
    assert delivery["status"] == "failed" and delivery["attempts"] == 2
    assert "association not established" in delivery["error"]
    ours = [r.getMessage() for r in caplog.records if r.name == "totalseg.dicomnode"]
    assert [m.split(":")[0:2] for m in ours] == [[f"job {job_id}", f" delivery {k}/2 failed"] for k in (1, 2)]


def test_a_failed_job_is_logged_and_not_sent(tmp_path, ct_instance, free_port, caplog):
    node = _node(tmp_path, free_port(), target=CStoreTarget("127.0.0.1", free_port(), "X"))
    job_id = _done_job(node, ct_instance, status="failed")
    with caplog.at_level(logging.ERROR, logger="totalseg.dicomnode"):
        node.step()
    assert node.store.get(job_id).meta["delivery"] | {"time": None} == {
        "status": "not sent", "attempts": 0, "error": "job failed: boom", "target": None, "time": None}
    assert [r.getMessage() for r in caplog.records if r.name == "totalseg.dicomnode"] == [
        f"job {job_id} (series 1.2.3.1) failed: boom"]


def test_a_series_moved_before_its_job_was_written_is_queued_on_restart(tmp_path, free_port, ct_instance):
    node = _node(tmp_path, free_port())
    job_id = node.store.new_folder()  # a node stopped between moving the series and writing the job
    series = node.store.folder(job_id) / "input" / "dicom"
    series.mkdir()
    (series / ".series.json").write_text('{"series_uid": "1.2.3.1"}')
    ct_instance("1.2.3.1", "1.2.3.1.1").save_as(series / "1.2.3.1.1.dcm", enforce_file_format=True)
    _node(tmp_path, free_port()).recover_orphans()
    job = node.store.get(job_id)
    assert job.status == "queued" and job.meta["instances"] == 1 and job.meta["series_uid"] == "1.2.3.1"


@pytest.mark.parametrize("argv, message", [
    (["--send-to", "pacs"], "expected HOST:PORT:AET"),
    (["--stow-token", "t"], "--stow-token needs --stow-url"),
    (["--stow-url", "ftp://x"], "expected an http(s) URL"),
    (["--task", "nope"], "unknown task 'nope'"),
    (["--aet", "A" * 17], "expected 1-16 characters"),
])
def test_cli_bad_options_one_line(tmp_path, capsys, argv, message):
    from totalseg.cli import main

    assert main(["dicom-node", "--data-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_port_in_use_one_line(tmp_path, capsys):
    import socket

    from totalseg.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dicom-node", "--data-dir", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"totalseg: error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another " \
                  "--port or --host\n"


def test_scp_answers_echo_and_refuses_other_sop_classes(tmp_path, free_port):
    from pynetdicom import AE
    from pynetdicom.sop_class import SegmentationStorage, Verification

    node = _node(tmp_path, free_port())
    node.listen()
    try:
        ae = AE(ae_title="PACS")
        ae.add_requested_context(Verification)
        ae.add_requested_context(SegmentationStorage)
        assoc = ae.associate("127.0.0.1", node.config.port, ae_title="TOTALSEG")
        accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
        assert int(assoc.send_c_echo().Status) == 0
        assoc.release()
    finally:
        node.stop()
    assert accepted == {str(Verification)}  # a SEG sent back by a PACS never comes in


@pytest.mark.timeout(60)  # without the lock the second node would listen until killed
def test_a_second_node_on_the_same_data_dir_is_refused(tmp_path, free_port, capsys):
    from totalseg.cli import main

    first = _node(tmp_path, free_port())
    first.start()
    try:
        assert main(["dicom-node", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())]) == 2
    finally:
        first.stop()
    err = capsys.readouterr().err
    assert err.startswith("totalseg: error: another totalseg dicom-node already runs on") and err.count("\n") == 1
    second = _node(tmp_path, free_port())  # the lock goes with the first node
    second.start()
    second.stop()
