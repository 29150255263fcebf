"""Hostile uploads: each case of the table in docs/serve.md is sent to the API, which must answer with
the table's status and one-line message and write nothing outside the job store (a refused job's
folder is removed; an accepted upload stays in its job folder)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

AUTH = {"Authorization": "Bearer s3cret"}  # the token of conftest.make_client
DOCS = Path(__file__).resolve().parents[2] / "docs" / "serve.md"
CT = Path(__file__).resolve().parents[1] / "data" / "ct_small_3mm.nii.gz"
ESCAPE = "../" * 5 + "escaped.dcm"  # from <store>/jobs/<id>/input/dicom up to the test's own tmp folder


def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _nrrd(data_file: str) -> bytes:
    return (b"NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n"
            + f"data file: {data_file}\n\n".encode())


def _file(name: str, payload: bytes, **extra) -> dict:
    return {"files": {"file": (name, payload)}, **extra}


def _streamed_oversize() -> dict:
    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.nii\"\r\n\r\n"
        for _ in range(3):
            yield b"\0" * (512 * 1024)
        yield b"\r\n--b--\r\n"
    return {"content": body(), "headers": {**AUTH, "Content-Type": "multipart/form-data; boundary=b"}}


def _ct() -> bytes:
    return CT.read_bytes()


# The request of each row of the table (sent to a server with --max-upload-mb 1).
REQUESTS = {
    "not an image": lambda: _file("scan.nii.gz", b"this is not a NIfTI file at all"),
    "truncated NIfTI": lambda: _file("scan.nii.gz", _ct()[:2000]),
    "unknown kind": lambda: _file("notes.txt", b"hello"),
    "NRRD without magic": lambda: _file("scan.nrrd", b"hello"),
    "NRRD data file outside": lambda: _file("scan.nrrd", _nrrd("../../secret.raw")),
    "NRRD data file absolute": lambda: _file("scan.nrrd", _nrrd("/etc/passwd")),
    "NRRD data file list": lambda: _file("scan.nrrd", _nrrd("LIST") + b"/etc/passwd\n"),
    "MHA detached": lambda: _file("scan.mha", b"ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\n"
                                              b"ElementType = MET_SHORT\nElementDataFile = /etc/passwd\n"),
    "MHA without header": lambda: _file("scan.mha", b"hello"),
    "zip traversal": lambda: _file("study.zip", _zip({ESCAPE: b"x"})),
    "zip backslash traversal": lambda: _file("study.zip", _zip({ESCAPE.replace("/", "\\"): b"x"})),
    "zip absolute path": lambda: _file("study.zip", _zip({"/tmp/escaped.dcm": b"x"})),
    "zip drive letter": lambda: _file("study.zip", _zip({"C:/escaped.dcm": b"x"})),
    "zip symlink": lambda: _file("study.zip", _zip({"a.dcm": b"x"}, symlink="link.dcm")),
    "zip bomb": lambda: _file("study.zip", _zip({"a.dcm": b"\0" * (900 * 1024)})),
    "not a zip": lambda: _file("study.zip", b"PK not really"),
    "oversize": lambda: _file("big.nii.gz", b"\0" * (1024 * 1024 + 10)),
    "oversize, streamed": _streamed_oversize,
    "not multipart": lambda: {"content": b'{"file": "ct.nii.gz"}',
                              "headers": {**AUTH, "Content-Type": "application/json"}},
    "file as text": lambda: {"data": {"file": "ct.nii.gz"}},
    "two files": lambda: {"files": [("file", ("a.nii.gz", _ct())), ("file", ("b.nii.gz", _ct()))]},
    "unknown field": lambda: _file("ct.nii.gz", _ct(), data={"speed": "max"}),
    "bad boolean": lambda: _file("ct.nii.gz", _ct(), data={"fast": "maybe"}),
    "bad task": lambda: _file("ct.nii.gz", _ct(), data={"task": "../total"}),
    "bad output type": lambda: _file("ct.nii.gz", _ct(), data={"output_type": "exe"}),
    "DICOM output for a NIfTI": lambda: _file("ct.nii.gz", _ct(), data={"output_type": "dicom_seg"}),
    "no token": lambda: _file("ct.nii.gz", _ct(), headers={}),
    "wrong token": lambda: _file("ct.nii.gz", _ct(), headers={"Authorization": "Bearer guess"}),
    "traversal file name": lambda: _file("../../../etc/cron.d/x.nii.gz", _ct()),
}


def hostile_table(path: Path = DOCS) -> dict[str, tuple[int, str]]:
    """The rows of the hostile-upload table in docs/serve.md: case -> (status code, message)."""
    block = path.read_text().split("<!-- hostile-uploads:start -->")[1].split("<!-- hostile-uploads:end -->")[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].isdigit():
            rows[cells[0]] = (int(cells[2]), cells[3].strip("`").strip())
    return rows


def test_table_lists_every_case():
    assert sorted(hostile_table()) == sorted(REQUESTS)


def _same_message(answer: str, documented: str) -> bool:
    """Equal up to the numbers (byte counts) in them; a documented message ending in ``...`` is a prefix."""
    answer, documented = re.sub(r"\d+", "N", answer), re.sub(r"\d+", "N", documented)
    if documented.endswith("..."):
        return answer.startswith(documented[:-3])
    return answer == documented


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_hostile_upload_answer_matches_table(case, make_client, data_dir, tmp_path):
    code, documented = hostile_table()[case]
    request = REQUESTS[case]()
    request.setdefault("headers", AUTH)
    with make_client(start_workers=False, max_upload_mb=1) as client:
        before = _tree(tmp_path)
        reply = client.post("/jobs", **request)
        after = _tree(tmp_path)
    assert reply.status_code == code, reply.text
    new = after - before
    assert {p for p in new if p != data_dir and data_dir not in p.parents} == set()  # nothing outside the store
    if code == 201:
        job = data_dir / "jobs" / reply.json()["id"]
        assert {p for p in new if data_dir / "jobs" in p.parents} == {
            job, job / "input", job / "input" / "image.nii.gz", job / "job.json"}  # the upload, under its own name
        return
    new = {p for p in new if not (p.parent == data_dir and p.is_file())}  # the store's own lock file
    detail = reply.json()["detail"]
    assert "\n" not in detail and str(tmp_path) not in detail  # one line, no server path
    assert _same_message(detail, documented), f"answer {detail!r}, table {documented!r}"
    assert new == set()  # the refused job's folder is gone and nothing was written elsewhere
    assert not any(p.name == "escaped.dcm" for p in after)
