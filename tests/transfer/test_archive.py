"""Safe extraction: unsafe members are refused before anything is written; entries appear whole."""

from __future__ import annotations

import doctest
import stat
import zipfile
from collections import namedtuple

import pytest

import totalseg.transfer.archive as archive_module
from totalseg.errors import InputError, OutputError
from totalseg.transfer.archive import list_members, safe_extract


def make_zip(path, members):
    """``members``: name -> bytes (a name ending in / is a folder)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def symlink_member(name, target):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


MODEL = {"m/a.txt": b"alpha", "m/sub/b.bin": bytes(range(256)) * 10, "m/empty/": b"", "top.txt": b"top"}


def test_extracts_every_member_and_returns_top_entries(tmp_path):
    zp = make_zip(tmp_path / "x.zip", MODEL)
    dest = tmp_path / "dest"
    placed = safe_extract(zp, dest)
    assert placed == [dest / "m", dest / "top.txt"]
    assert tree(dest) == {"m/a.txt": b"alpha", "m/sub/b.bin": MODEL["m/sub/b.bin"], "top.txt": b"top"}
    assert (dest / "m" / "empty").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "x.zip"]  # no staging folder left behind


def test_strip_top_puts_content_directly_in_dest(tmp_path):
    zp = make_zip(tmp_path / "x.zip", {"root/": b"", "root/a.txt": b"a", "root/s/b.txt": b"b"})
    placed = safe_extract(zp, tmp_path / "dest", strip_top="root")
    assert placed == [tmp_path / "dest" / "a.txt", tmp_path / "dest" / "s"]
    assert tree(tmp_path / "dest") == {"a.txt": b"a", "s/b.txt": b"b"}


def test_strip_top_refuses_members_outside_it(tmp_path):
    zp = make_zip(tmp_path / "x.zip", {"root/a.txt": b"a", "other.txt": b"o"})
    with pytest.raises(InputError, match="member 'other.txt' is not under root/"):
        safe_extract(zp, tmp_path / "dest", strip_top="root")
    assert not (tmp_path / "dest").exists()


def test_existing_entry_is_replaced_as_a_whole(tmp_path):
    dest = tmp_path / "dest"
    (dest / "m").mkdir(parents=True)
    (dest / "m" / "old.txt").write_bytes(b"old")
    (dest / "keep.txt").write_bytes(b"keep")
    safe_extract(make_zip(tmp_path / "x.zip", {"m/a.txt": b"new"}), dest)
    assert tree(dest) == {"keep.txt": b"keep", "m/a.txt": b"new"}


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil", "has a '..' component"),
        ("ok/../../evil", "has a '..' component"),
        ("ok\\..\\..\\evil", "has a '..' component"),
        ("/etc/evil", "has an absolute path"),
        ("C:/evil", "has an absolute path"),
        ("c:evil", "has an absolute path"),
    ],
)
def test_unsafe_member_refuses_the_whole_archive(tmp_path, name, problem):
    zp = tmp_path / "bad.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("good/first.txt", b"written first in the archive")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name  # ZipInfo() would sanitise the name; a crafted archive does not
        zf.writestr(info, b"evil")
    dest = tmp_path / "a" / "dest"
    with pytest.raises(InputError, match=f"member {name!r} {problem}".replace("\\", "\\\\")):
        safe_extract(zp, dest)
    assert not (tmp_path / "a").exists()  # nothing at all was written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_symlink_member_is_refused(tmp_path):
    zp = tmp_path / "link.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr(*symlink_member("m/link", "/etc/passwd"))
    with pytest.raises(InputError, match="member 'm/link' is a symbolic link"):
        safe_extract(zp, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_non_zip_and_missing_file_are_input_errors(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip archive" * 10)
    with pytest.raises(InputError, match=r"junk\.zip: not a zip archive or corrupt .*download it again"):
        safe_extract(junk, tmp_path / "dest")
    with pytest.raises(InputError, match="no such file"):
        list_members(tmp_path / "absent.zip")


def test_truncated_zip_is_an_input_error(tmp_path):
    zp = make_zip(tmp_path / "x.zip", MODEL)
    data = zp.read_bytes()
    zp.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a zip archive or corrupt"):
        safe_extract(zp, tmp_path / "dest")


def test_corrupt_member_leaves_nothing_at_the_final_name(tmp_path):
    dest = tmp_path / "dest"
    (dest / "m").mkdir(parents=True)
    (dest / "m" / "old.txt").write_bytes(b"old")
    zp = tmp_path / "x.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("m/a.txt", b"A" * 1000)
        zf.writestr("m/b.txt", b"B" * 1000)
    data = bytearray(zp.read_bytes())
    data[data.index(b"B" * 1000) + 10] ^= 0xFF  # flip one byte of the second member: CRC error
    zp.write_bytes(bytes(data))
    with pytest.raises(InputError, match="member 'm/b.txt' is corrupt .*Bad CRC-32"):
        safe_extract(zp, dest)
    assert tree(dest) == {"m/old.txt": b"old"}  # the previous folder is untouched, no half-written one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "x.zip"]  # staging removed


def test_too_little_free_space_is_an_output_error(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(archive_module.shutil, "disk_usage", lambda _: usage(100, 90, 10))
    with pytest.raises(OutputError, match="not enough free space"):
        safe_extract(make_zip(tmp_path / "x.zip", MODEL), tmp_path / "dest")


def test_staging_happens_inside_dest_when_parent_is_not_writable(tmp_path, monkeypatch):
    dest = tmp_path / "dest"
    dest.mkdir()
    monkeypatch.setattr(archive_module.os, "access", lambda path, mode: False)
    placed = safe_extract(make_zip(tmp_path / "x.zip", MODEL), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["m", "top.txt"] == [p.name for p in placed]


def test_list_members_gives_files_and_sizes(tmp_path):
    zp = make_zip(tmp_path / "x.zip", MODEL)
    assert list_members(zp) == {"m/a.txt": 5, "m/sub/b.bin": 2560, "top.txt": 3}


def test_docstring_examples():
    assert doctest.testmod(archive_module).failed == 0
