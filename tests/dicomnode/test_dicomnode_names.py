from __future__ import annotations

import pytest

from totalseg.dicomnode.names import safe_uid_name


def test_valid_uids_are_kept():
    assert safe_uid_name("1.2.840.113619.2.55.3.604688119") == "1.2.840.113619.2.55.3.604688119"
    assert safe_uid_name(" 1.2.3\x00") == "1.2.3"  # DICOM pads UIDs with a NUL


@pytest.mark.parametrize("uid", ["../../etc/passwd", "/abs/path", "1.2/../3", "..", ".", "", "1..2", "a.b",
                                 "1" * 65, "1.2.3\\4", "CON", "1.2\n3", None])
def test_anything_else_becomes_a_hash_name(uid):
    name = safe_uid_name(uid)
    assert name.startswith("x") and len(name) == 41 and name[1:].isalnum()


def test_different_uids_different_names():
    assert safe_uid_name("../a") != safe_uid_name("../b")
