from __future__ import annotations

import os
import time

from totalseg.dicomnode.inbox import Arrival, Inbox


def _arrive(inbox: Inbox, series: str, sop: str, *, study: str = "1.2.3"):
    """Store an instance (the inbox keeps the bytes as they came; the SCP tests send real ones)."""
    return inbox.store(Arrival(study, series, sop, "CT", "PACS"), f"instance {sop}".encode())


def _age(folder, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def test_a_series_is_complete_after_its_quiet_period(tmp_path):
    inbox = Inbox(tmp_path / "incoming")
    a1 = _arrive(inbox, "1.2.3.1", "1.2.3.1.1")
    _arrive(inbox, "1.2.3.1", "1.2.3.1.2")
    b1 = _arrive(inbox, "1.2.3.2", "1.2.3.2.1")
    assert inbox.complete(quiet_s=10) == []
    _age(a1.parent, 11)
    assert inbox.complete(quiet_s=10) == [a1.parent]
    assert inbox.count(a1.parent) == 2 and inbox.count(b1.parent) == 1
    _arrive(inbox, "1.2.3.1", "1.2.3.1.3")  # a late instance starts the quiet period again
    assert inbox.complete(quiet_s=10) == []
    _age(a1.parent, 30)
    _age(b1.parent, 20)
    assert inbox.complete(quiet_s=10) == [a1.parent, b1.parent]  # oldest first


def test_a_restarted_inbox_goes_on_with_what_was_received(tmp_path):
    first = _arrive(Inbox(tmp_path / "incoming"), "1.2.3.1", "1.2.3.1.1")
    again = Inbox(tmp_path / "incoming")
    assert again.collecting() == [first.parent] and again.complete(quiet_s=10) == []
    _age(first.parent, 11)
    assert again.complete(quiet_s=10) == [first.parent]


def test_take_moves_the_series_and_a_late_instance_starts_a_new_one(tmp_path):
    inbox = Inbox(tmp_path / "incoming")
    path = _arrive(inbox, "1.2.3.1", "1.2.3.1.1", study="1.2.3")
    (path.parent / ".abc.tmp.x.dcm").write_bytes(b"half")  # a write cut short by a crash
    info = inbox.take(path.parent, tmp_path / "job-input")
    assert info["series_uid"] == "1.2.3.1" and info["study_uid"] == "1.2.3" and info["calling_ae"] == "PACS"
    assert sorted(p.name for p in (tmp_path / "job-input").iterdir()) == [".series.json", "1.2.3.1.1.dcm"]
    _arrive(inbox, "1.2.3.1", "1.2.3.1.2")
    assert inbox.count(path.parent) == 1


def test_hostile_uids_stay_inside_the_inbox(tmp_path):
    inbox = Inbox(tmp_path / "in")
    path = _arrive(inbox, "../../escape", "../../../etc/x")
    assert path.parent.parent == tmp_path / "in" and path.name.startswith("x") and path.name.endswith(".dcm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
