"""Safe zip extraction: no member can write outside the target folder, and no entry appears at its
final name before it is complete.

Members are checked before anything is written (absolute paths, drive letters, ``..`` components
and symlinks are refused), extracted into a staging folder next to the target, then moved into
place one top-level entry at a time with :func:`os.replace`.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from totalseg.errors import InputError, OutputError

_DRIVE = re.compile(r"^[A-Za-z]:")


def list_members(zip_path: Path) -> dict[str, int]:
    """Names and uncompressed sizes (bytes) of the file members of a zip, folders left out.

    Raises:
        InputError: the file is missing, not a zip or corrupt.

    Examples:
        >>> import io
        >>> buf = io.BytesIO()
        >>> with zipfile.ZipFile(buf, "w") as zf:
        ...     zf.writestr("model/plans.json", "{}")
        >>> list_members(buf)
        {'model/plans.json': 2}
    """
    with _open_zip(zip_path) as zf:
        return {info.filename: info.file_size for info in zf.infolist() if not info.is_dir()}


def safe_extract(zip_path: Path, dest_dir: Path, *, strip_top: str | None = None) -> list[Path]:
    """Extract a zip into ``dest_dir`` safely and atomically per top-level entry.

    Every member is checked first; one unsafe member refuses the whole archive before anything is
    written. The archive is extracted into a hidden staging folder on the same file system (in
    ``dest_dir``'s parent, or in ``dest_dir`` when that is a mount point or the parent is read-only)
    and each top-level entry is then renamed to its final name; an existing entry of that name is
    replaced as a whole. A crash leaves at most the staging folder, never a half-extracted entry.

    Args:
        zip_path: the archive.
        dest_dir: target folder, created if missing.
        strip_top: a top-level folder every member must be under; it is left out, so its content
            lands directly in ``dest_dir``.

    Returns:
        The top-level entries placed in ``dest_dir``, sorted.

    Raises:
        InputError: a member is unsafe or outside ``strip_top``, or the archive is missing or corrupt.
        OutputError: ``dest_dir`` cannot be written or has too little free space.

    Examples:
        >>> import io
        >>> buf = io.BytesIO()
        >>> with zipfile.ZipFile(buf, "w") as zf:
        ...     zf.writestr("../evil", "x")
        >>> safe_extract(buf, Path("out"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: <zip file object>: member '../evil' has a '..' component; ...
    """
    dest_dir = Path(dest_dir)
    with _open_zip(zip_path) as zf:
        members = _plan(zf, _label(zip_path), strip_top)
        _make_dir(dest_dir)
        _check_space(dest_dir, sum(info.file_size for info, _ in members))
        staging = _staging_dir(dest_dir)
        try:
            _extract(zf, members, staging / "new", _label(zip_path))
            return _move_into_place(staging, dest_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _label(zip_path) -> str:
    return str(zip_path) if isinstance(zip_path, str | os.PathLike) else "<zip file object>"


def _open_zip(zip_path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise InputError(f"{zip_path}: no such file; check the path") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputError(f"{_label(zip_path)}: not a zip archive or corrupt ({exc}); download it again") from None


def _plan(zf: zipfile.ZipFile, label: str, strip_top: str | None) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Each member with its checked relative target path; refuses the archive on the first unsafe member."""
    plan = []
    for info in zf.infolist():
        rel = _safe_relative(info, label)
        if strip_top is not None and rel is not None:
            if rel.parts[0] != strip_top:
                raise InputError(f"{label}: member {info.filename!r} is not under {strip_top}/; "
                                 f"expected an archive whose content is all in {strip_top}/")
            rel = PurePosixPath(*rel.parts[1:]) if len(rel.parts) > 1 else None
        if rel is not None:
            plan.append((info, rel))
    return plan


def _safe_relative(info: zipfile.ZipInfo, label: str) -> PurePosixPath | None:
    """The member's path relative to the target, or ``None`` for an entry naming the root itself."""
    name = info.filename
    refuse = "refusing an archive that writes outside its folder"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise InputError(f"{label}: member {name!r} has an absolute path; {refuse}")
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        raise InputError(f"{label}: member {name!r} has a '..' component; {refuse}")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"{label}: member {name!r} is a symbolic link; {refuse}")
    parts = [p for p in parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def _extract(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, PurePosixPath]], root: Path, label: str):
    for info, rel in members:
        target = root.joinpath(*rel.parts)
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise InputError(
                f"{label}: member {info.filename!r} is corrupt ({exc}); download the archive again"
            ) from None
        except OSError as exc:
            raise OutputError(f"cannot write {target} ({exc.strerror}); free space or choose another folder") from None


def _move_into_place(staging: Path, dest_dir: Path) -> list[Path]:
    """Rename each extracted top-level entry to its final name; replaced entries go to the staging trash."""
    new, old = staging / "new", staging / "old"
    old.mkdir()
    placed = []
    for entry in sorted(new.iterdir()) if new.exists() else []:
        target = dest_dir / entry.name
        try:
            if target.exists() or target.is_symlink():
                os.replace(target, old / entry.name)
            os.replace(entry, target)
        except OSError as exc:
            raise OutputError(f"cannot move {entry.name} into {dest_dir} ({exc.strerror}); check permissions") from None
        placed.append(target)
    return placed


def _staging_dir(dest_dir: Path) -> Path:
    """A fresh hidden folder on ``dest_dir``'s file system, outside ``dest_dir`` where possible."""
    parent = dest_dir.resolve().parent
    same_fs = os.stat(parent).st_dev == os.stat(dest_dir).st_dev
    if same_fs and os.access(parent, os.W_OK):
        return Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extract-", dir=parent))
    return Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder} ({exc.strerror}); choose another folder") from None


def _check_space(folder: Path, n_bytes: int) -> None:
    free = shutil.disk_usage(folder).free
    if n_bytes > free:
        raise OutputError(
            f"not enough free space in {folder} to extract: {tqdm.format_sizeof(n_bytes, 'B')} needed, "
            f"{tqdm.format_sizeof(free, 'B')} free; free space or choose another folder"
        )
