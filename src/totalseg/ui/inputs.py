"""Where an image comes from: an upload saved to a private folder, or a file in the server's data folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import BinaryIO

from totalseg.errors import InputError

IMAGE_EXTENSIONS = (".nii", ".nii.gz", ".nrrd", ".mha")
"""Single-file images an upload may be (``.mhd`` needs its ``.raw`` beside it, so it is not offered)."""
DICOM_EXTENSIONS = (".zip",)
MAX_LISTED = 500


def save_upload(name: str, stream: BinaryIO, folder: Path) -> Path:
    """Copy an uploaded file into ``folder`` under a safe name; refuse types we cannot read.

    Examples:
        >>> import io, tempfile
        >>> save_upload("../../etc/ct scan.nii.gz", io.BytesIO(b"x"), Path(tempfile.mkdtemp())).name
        'ct_scan.nii.gz'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name.replace("\\", "/")).name).lstrip(".") or "upload"
    lower = safe.lower()
    if not lower.endswith(IMAGE_EXTENSIONS + DICOM_EXTENSIONS):
        raise InputError(
            f"{name}: unsupported file type; upload a NIfTI (.nii, .nii.gz), NRRD (.nrrd), MetaImage (.mha) "
            "file or a .zip of one DICOM series"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe
    partial = folder / f".{safe}.part"
    with open(partial, "wb") as out:
        shutil.copyfileobj(stream, out, length=8 << 20)
    partial.replace(target)
    return target


def server_files(data_dir: Path) -> list[str]:
    """Images (and zipped DICOM series) under ``data_dir``, as sorted paths relative to it."""
    if not data_dir.is_dir():
        raise InputError(f"{data_dir}: the configured data folder does not exist; start the app with --data-dir DIR")
    found = []
    for path in sorted(data_dir.rglob("*")):
        if len(found) >= MAX_LISTED:
            break
        if path.is_file() and path.name.lower().endswith(IMAGE_EXTENSIONS + (".mhd",) + DICOM_EXTENSIONS):
            found.append(path.relative_to(data_dir).as_posix())
    return found


def resolve_server_file(data_dir: Path, relative: str) -> Path:
    """The file ``relative`` inside ``data_dir``; anything resolving outside it is refused.

    Examples:
        >>> resolve_server_file(Path("/data"), "../etc/passwd")
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: ../etc/passwd: not inside the data folder; choose a file from the list
    """
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InputError(f"{relative}: not inside the data folder; choose a file from the list")
    return path

