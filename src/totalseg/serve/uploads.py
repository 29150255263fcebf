"""Checks on uploaded images: the kind from the file name's ending (the client's name is never
used as a path), NIfTI headers, NRRD/MetaImage headers that must not name a detached data file, and
DICOM zips extracted by :func:`totalseg.transfer.archive.safe_extract` within a size budget."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from totalseg.errors import InputError
from totalseg.transfer.archive import list_members, safe_extract

# The stored name of each accepted kind, by the ending of the client's file name.
KINDS = {".nii.gz": "image.nii.gz", ".nii": "image.nii", ".nrrd": "image.nrrd", ".mha": "image.mha",
         ".zip": "dicom.zip"}
_MAX_ZIP_RATIO = 200  # DICOM compresses about 2-10x; a zip bomb compresses 1000x and more
_HEADER_BYTES = 65536


def stored_name(client_name: str | None) -> str:
    """The name an upload is stored under, chosen by the ending of the client's file name.

    Examples:
        >>> stored_name("../../etc/CT scan.NII.GZ")
        'image.nii.gz'
        >>> stored_name("notes.txt")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: upload 'notes.txt': ...
    """
    lowered = (client_name or "").lower()
    for ending, name in KINDS.items():
        if lowered.endswith(ending):
            return name
    raise InputError(f"upload {client_name!r}: expected a .nii, .nii.gz, .nrrd, .mha or a DICOM .zip; "
                     "send one of those as the 'file' field")


def check_upload(path: Path, *, max_bytes: int) -> Path:
    """Check a stored upload and return what to segment (a DICOM zip is extracted beside it).

    Raises:
        InputError: not the image its name says, a detached NRRD/MetaImage header, an unsafe or
            oversized zip.
    """
    if path.name.startswith("image.nii"):
        _check_nifti(path)
    elif path.suffix in (".nrrd", ".mha"):
        _check_attached_header(path)
    else:
        return _extract_dicom_zip(path, max_bytes=max_bytes)
    return path


def _check_nifti(path: Path) -> None:
    """A readable NIfTI header and all the voxel data it announces (a .nii.gz is decompressed to the end)."""
    import nibabel as nib

    try:
        header = nib.load(path).header
    except Exception as exc:  # nibabel raises many types for a broken file
        raise InputError(f"upload: not a NIfTI image ({type(exc).__name__}); send a .nii or .nii.gz file") from None
    expected = int(header.get_data_offset()) + int(np.prod(header.get_data_shape())) * header.get_data_dtype().itemsize
    received = _decompressed_size(path)
    if received is None or received < expected:
        got = "a broken gzip stream" if received is None else f"{received} bytes"
        raise InputError(f"upload: the NIfTI image is truncated ({got}, its header announces {expected} bytes); "
                         "send the whole file")


def _decompressed_size(path: Path) -> int | None:
    """Bytes of the file (decompressed for .gz); ``None`` for a gzip stream that is cut or corrupt."""
    if path.suffix != ".gz":
        return path.stat().st_size
    size = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return size


def _check_attached_header(path: Path) -> None:
    """Refuse NRRD ``data file:`` and MetaImage ``ElementDataFile`` other than ``LOCAL``."""
    head = path.read_bytes()[:_HEADER_BYTES]
    if path.suffix == ".nrrd" and not head.startswith(b"NRRD"):
        raise InputError("upload: not an NRRD file (no 'NRRD' magic); send an NRRD with its data attached")
    text = head.split(b"\n\n", 1)[0] if path.suffix == ".nrrd" else head
    for raw in text.decode("latin-1").splitlines():
        key, _, value = raw.partition(":") if path.suffix == ".nrrd" else raw.partition("=")
        key = key.strip().lower().replace(" ", "")
        if key == "datafile" or (key == "elementdatafile" and value.strip().upper() != "LOCAL"):
            raise InputError("upload: the header names a separate data file; send one file with the data "
                             "attached (.nrrd with encoded data, .mha)")
        if key == "elementdatafile":
            return
    if path.suffix == ".mha" and b"ElementDataFile" not in head:
        raise InputError("upload: not a MetaImage (.mha) file (no ElementDataFile); send an .mha image")


def _extract_dicom_zip(path: Path, *, max_bytes: int) -> Path:
    """Extract within the size budget; errors name the upload, never the server's folders."""
    try:
        members = list_members(path)
        total = sum(members.values())
        if total > max_bytes or total > _MAX_ZIP_RATIO * max(path.stat().st_size, 1):
            raise InputError(f"upload: the zip expands to {total} bytes from {path.stat().st_size}; "
                             "refusing a zip bomb or an archive over the upload limit")
        folder = path.parent / "dicom"
        safe_extract(path, folder)
    except InputError as exc:
        raise InputError(str(exc).replace(str(path), "upload")) from None
    return folder
