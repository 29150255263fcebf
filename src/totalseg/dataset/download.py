"""Download a published dataset and extract it into a dataset folder, once.

The archive is fetched with :func:`totalseg.transfer.download.download` (resume after dropped
connections, backoff on 503, md5 check) after a free-space check for the archive and its content,
then extracted with :func:`totalseg.transfer.archive.safe_extract` (no member may leave the folder).
A marker file records the finished dataset, so a second run does nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from totalseg.dataset.catalog import ZENODO_URL, DatasetSpec, get_dataset_spec
from totalseg.errors import DownloadError, OutputError
from totalseg.io.atomic import atomic_write_text
from totalseg.transfer.archive import list_members, safe_extract
from totalseg.transfer.download import download

MARKER = ".totalseg-dataset.json"


@dataclass(frozen=True)
class DownloadResult:
    """The dataset folder and whether this call did anything."""

    root: Path
    downloaded: bool


def download_dataset(
    name: str,
    root: str | os.PathLike,
    *,
    base_url: str = ZENODO_URL,
    keep_archive: bool = False,
    progress: bool = True,
    retries: int = 8,
    backoff_s: float = 1.0,
) -> DownloadResult:
    """Download and extract dataset ``name`` (``ct-v2``, ``ct-v2-small``, ``ct-v1``, ``mri``) into ``root``.

    Args:
        name: the dataset.
        root: the dataset folder; afterwards it holds ``meta.csv`` and the subject folders.
        base_url: Zenodo, or a mirror with the same paths (``/records/<id>/files/<name>``, ``/api/records/<id>``).
        keep_archive: keep the zip after extraction (default: delete it).
        progress: show progress bars.
        retries: failed attempts in a row allowed per request.
        backoff_s: first wait between attempts (doubling).

    Returns:
        A :class:`DownloadResult`; ``downloaded`` is False when the folder was already complete.

    Raises:
        DownloadError: the server fails past the retries, the md5 differs, or there is too little space.
        InputError: the archive is corrupt or a member would leave the folder.

    Examples:
        >>> download_dataset("ct-v2-small", "data/totalseg-small")  # doctest: +SKIP
        DownloadResult(root=PosixPath('data/totalseg-small'), downloaded=True)
    """
    spec = get_dataset_spec(name)
    root = Path(root)
    if _is_complete(root, spec):
        return DownloadResult(root, False)
    _make_dir(root)
    size, md5 = _size_and_md5(spec, root, base_url, retries=retries, backoff_s=backoff_s)
    archive = root / spec.filename
    if size is not None and not (archive.is_file() and archive.stat().st_size == size):
        _check_space(root, archive, size)
    download(spec.file_url(base_url), archive, expected_md5=md5, expected_size=size, retries=retries,
             backoff_s=backoff_s, progress=progress)
    safe_extract(archive, root, strip_top=_top_folder(archive))
    _write_marker(root, spec, md5)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return DownloadResult(root, True)


def _is_complete(root: Path, spec: DatasetSpec) -> bool:
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("dataset") == spec.name and (root / "meta.csv").exists()


def _size_and_md5(spec: DatasetSpec, root: Path, base_url: str, *, retries: int, backoff_s: float):
    """The catalogued size and md5, else those the Zenodo record publishes (fetched with retries)."""
    if spec.md5 is not None:
        return spec.size_bytes, spec.md5
    record_file = root / f".zenodo-{spec.record}.json"
    record_file.unlink(missing_ok=True)  # always ask afresh: the record is small
    download(spec.record_url(base_url), record_file, retries=retries, backoff_s=backoff_s, progress=False)
    try:
        files = json.loads(record_file.read_text())["files"]
        entry = next(f for f in files if f.get("key") == spec.filename)
        algo, _, digest = str(entry["checksum"]).partition(":")
        return int(entry["size"]), digest if algo == "md5" else None
    except (ValueError, KeyError, TypeError, StopIteration):
        raise DownloadError(f"{spec.record_url(base_url)}: no entry for {spec.filename} with size and checksum; "
                            "check --base-url, or download the zip by hand and extract it") from None
    finally:
        record_file.unlink(missing_ok=True)


def _check_space(root: Path, archive: Path, size: int) -> None:
    """The archive's missing bytes plus its content (about its size: the masks are gzip already) must fit."""
    part = archive.with_name(archive.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    need = (size - have) + size
    free = shutil.disk_usage(root).free
    if need > free:
        raise DownloadError(
            f"not enough free space in {root}: about {tqdm.format_sizeof(need, 'B')} needed for the archive and "
            f"its content, {tqdm.format_sizeof(free, 'B')} free; free space or choose another folder"
        )


def _top_folder(archive: Path) -> str | None:
    """The single top-level folder to strip (v1 zips hold ``Totalsegmentator_dataset/``), else None."""
    names = [name.replace("\\", "/").lstrip("/") for name in list_members(archive)]
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        return None
    top = tops.pop()
    nested = any("/" in name for name in names)
    return top if nested and not _looks_like_subject(top) else None


def _looks_like_subject(name: str) -> bool:
    return len(name) > 1 and name[0] == "s" and name[1:].isdigit()


def _write_marker(root: Path, spec: DatasetSpec, md5: str | None) -> None:
    atomic_write_text(root / MARKER, json.dumps({"dataset": spec.name, "record": spec.record,
                                                  "file": spec.filename, "md5": md5}))


def _make_dir(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {root} ({exc.strerror}); choose another folder") from None
