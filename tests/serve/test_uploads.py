from __future__ import annotations

import io
import zipfile

import pytest

AUTH = {"Authorization": "Bearer s3cret"}  # the token of conftest.make_client


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_NRRD_DETACHED = b"NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: ../../secret.raw\n\n"
_MHA_DETACHED = (b"ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\n"
                 b"ElementDataFile = /etc/passwd\n")

HOSTILE = {
    "not an image": ("scan.nii.gz", b"this is not a NIfTI file at all", 400, "not a NIfTI"),
    "unknown kind": ("notes.txt", b"hello", 400, "expected a .nii"),
    "oversize": ("big.nii.gz", b"\0" * (1024 * 1024 + 10), 413, "over the limit"),
    "zip traversal": ("study.zip", _zip({"../../evil.dcm": b"x"}), 400, "'..' component"),
    "zip absolute": ("study.zip", _zip({"/tmp/evil.dcm": b"x"}), 400, "absolute path"),
    "zip bomb": ("study.zip", _zip({"a.dcm": b"\0" * (900 * 1024)}), 400, "zip bomb"),
    "not a zip": ("study.zip", b"PK not really", 400, "not a zip"),
    "nrrd detached": ("scan.nrrd", _NRRD_DETACHED, 400, "separate data file"),
    "mha detached": ("scan.mha", _MHA_DETACHED, 400, "separate data file"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_upload_refused(case, make_client, data_dir, tmp_path):
    name, payload, code, message = HOSTILE[case]
    before = sorted(p for p in tmp_path.rglob("*"))
    with make_client(start_workers=False, max_upload_mb=1) as client:
        reply = client.post("/jobs", headers=AUTH, files={"file": (name, payload)})
    assert reply.status_code == code, reply.text
    detail = reply.json()["detail"]
    assert message in detail and "\n" not in detail
    after = sorted(p for p in tmp_path.rglob("*"))
    assert [p for p in after if p not in before] == [data_dir, data_dir / "jobs"]  # nothing outside the store
    assert list((data_dir / "jobs").iterdir()) == []  # the refused job's folder is gone too


def test_oversize_refused_while_streaming_without_length(make_client, data_dir):
    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.nii\"\r\n\r\n"
        for _ in range(3):
            yield b"\0" * (512 * 1024)
        yield b"\r\n--b--\r\n"

    with make_client(start_workers=False, max_upload_mb=1) as client:
        reply = client.post("/jobs", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
                            content=body())
    assert reply.status_code == 413
    assert list((data_dir / "jobs").iterdir()) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"speed": "max"}, "unknown form field 'speed'"),
    ({"fast": "maybe"}, "expected true or false"),
    ({"task": "../total"}, "expected a task name"),
])
def test_bad_form_fields_refused(fields, message, make_client, ct_small_path):
    with make_client(start_workers=False) as client:
        reply = client.post("/jobs", headers=AUTH, data=fields,
                            files={"file": ("ct.nii.gz", ct_small_path.read_bytes())})
    assert reply.status_code == 400 and message in reply.json()["detail"]


def test_missing_file_and_non_multipart(make_client):
    with make_client(start_workers=False) as client:
        assert "no 'file' field" in client.post("/jobs", headers=AUTH, data={"fast": "true"}).json()["detail"]
        assert client.post("/jobs", headers=AUTH, content=b"{}").status_code == 400
