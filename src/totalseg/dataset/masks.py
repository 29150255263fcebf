"""Read a ``.nii.gz`` mask (or image) in one pass: one decompression into one buffer, no copies.

nibabel streams gzip through Python's ``gzip`` module in small chunks; a dataset pass decompresses
about 140,000 masks, so this reads the whole compressed file, inflates it with libdeflate (several
times faster than zlib; zlib handles multi-member files) and views the voxels in place. The NIfTI
header is parsed from the same buffer.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.errors import InputError

_GZIP_MAGIC = b"\x1f\x8b"
_MIN_HEADER_BYTES = 552  # a NIfTI-2 header and its 4 extension flag bytes


@dataclass(frozen=True)
class NiftiData:
    """A NIfTI file's header and its voxels (a read-only view in file order, shape (X, Y, Z))."""

    header: nib.Nifti1Header
    array: np.ndarray

    @property
    def affine(self) -> np.ndarray:
        return self.header.get_best_affine()

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return tuple(float(z) for z in self.header.get_zooms()[:3])  # type: ignore[return-value]


def read_nifti(path: Path) -> NiftiData:
    """Read a 3-D ``.nii.gz``/``.nii`` file; the voxels are the stored values (scaling is checked, not applied).

    Scaling that changes which voxels are zero (``scl_inter`` not 0) is refused, since mask tests
    here are "value != 0".

    Raises:
        InputError: the file is missing, truncated, corrupt, not NIfTI or not 3-D (the message names it).

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "m.nii.gz"
        >>> nib.save(nib.Nifti1Image(np.eye(3, dtype=np.uint8)[..., None], np.eye(4)), path)
        >>> int(read_nifti(path).array[:, :, 0].sum())
        3
    """
    data = _file_bytes(path)
    gzipped = data.startswith(_GZIP_MAGIC)
    raw = _inflate_first_member(data, path) if gzipped else data
    if gzipped and len(raw) < _MIN_HEADER_BYTES:  # a first member shorter than the header: decode them all
        raw = _zlib_gunzip(data, path)
    header = _header(raw, path)
    shape = tuple(int(s) for s in header.get_data_shape())
    if len(shape) < 3 or any(s != 1 for s in shape[3:]):
        raise InputError(f"{path}: expected a 3-D image, got shape {shape}; the dataset file is not as published")
    dtype = header.get_data_dtype()
    offset = int(header.get_data_offset())
    n_voxels = int(np.prod(shape[:3]))
    need = offset + n_voxels * dtype.itemsize
    if len(raw) < need and gzipped:  # several gzip members (RFC 1952): decode them all
        raw = _zlib_gunzip(data, path)
    if len(raw) < need:
        raise InputError(f"{path}: truncated ({len(raw)} of {need} bytes); download the dataset again")
    _, inter = header.get_slope_inter()
    if inter is not None and np.isfinite(inter) and inter != 0.0:
        raise InputError(f"{path}: scl_inter={inter} makes zero voxels non-zero; not a mask as published")
    array = np.frombuffer(raw, dtype=dtype, count=n_voxels, offset=offset).reshape(shape[:3], order="F")
    return NiftiData(header, array)


def slice_voxel_counts(array: np.ndarray) -> np.ndarray:
    """Non-zero voxels in each slice along the last axis of an (X, Y, Z) F-ordered array, as int64.

    Examples:
        >>> a = np.zeros((2, 2, 3), np.uint8, order="F"); a[0, 0, 2] = a[1, 1, 2] = 1
        >>> slice_voxel_counts(a).tolist()
        [0, 0, 2]
    """
    nz = array.shape[2]
    rows = array.reshape(-1, nz, order="F").T  # (Z, X*Y): each slice is one contiguous row in F order
    if array.dtype.kind == "u":
        present = rows.max(axis=1) > 0 if rows.size else np.zeros(nz, bool)  # uint8 max is SIMD-fast
    else:
        present = (rows != 0).any(axis=1)
    counts = np.zeros(nz, np.int64)
    for z in np.flatnonzero(present):  # a 1-D count_nonzero is SIMD; the axis= form makes a bool copy
        counts[z] = np.count_nonzero(rows[z])
    return counts


def merge_masks(folder: Path, shape: tuple[int, int, int], labels: Iterable[tuple[int, str]]) -> np.ndarray:
    """One uint8 label map (F order) from ``<folder>/<name>.nii.gz`` masks, in the order given.

    ``combined[mask != 0] = label`` for each ``(label, name)``: a later class wins where masks
    overlap (as TotalSegmentator's conversion script); a missing mask file adds nothing.

    Raises:
        InputError: a mask is unreadable or its shape differs from ``shape``.
    """
    combined = np.zeros(shape, np.uint8, order="F")
    for label, name in labels:
        path = folder / f"{name}.nii.gz"
        if not path.exists():
            continue
        mask = read_nifti(path)
        if mask.array.shape != tuple(shape):
            raise InputError(f"{path}: shape {mask.array.shape} differs from the image's {tuple(shape)}")
        combined[mask.array != 0] = label
    return combined


def _file_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; download the dataset again") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check the file") from None


def _inflate_first_member(data: bytes, path: Path) -> bytes:
    """The first gzip member, by libdeflate when installed (it stops after one member), else zlib."""
    try:
        import deflate
    except ImportError:
        return _zlib_gunzip(data, path)
    try:
        return deflate.gzip_decompress(data)
    except deflate.DeflateError:  # truncated or corrupt: let zlib name the reason
        return _zlib_gunzip(data, path)


def _zlib_gunzip(data: bytes, path: Path) -> bytes:
    pieces = []
    try:
        while data:
            decomp = zlib.decompressobj(wbits=31)
            pieces.append(decomp.decompress(data))
            if not decomp.eof:
                raise InputError(f"{path}: truncated gzip stream; download the dataset again")
            data = decomp.unused_data.lstrip(b"\x00")  # some writers pad between members
    except zlib.error as exc:
        raise InputError(f"{path}: corrupt gzip data ({exc}); download the dataset again") from None
    return b"".join(pieces)


def _header(raw: bytes, path: Path) -> nib.Nifti1Header:
    size = int.from_bytes(raw[:4], "little") if len(raw) >= 4 else 0
    size_be = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else 0
    klass = nib.Nifti2Header if 540 in (size, size_be) else nib.Nifti1Header
    size = klass.template_dtype.itemsize
    if len(raw) < size:
        raise InputError(f"{path}: too short for a NIfTI header; download the dataset again")
    try:
        # Parse from a copy of the header and its extensions only: raw is a bytearray when inflated,
        # and BytesIO would copy all of it (a 20 MB copy per mask).
        plain = klass(bytes(raw[:size]), check=True)
        end = max(size + 4, int(plain.get_data_offset()))
        return klass.from_fileobj(io.BytesIO(bytes(raw[:end])), check=True)
    except Exception as exc:  # nibabel raises several types for broken headers
        raise InputError(f"{path}: not a valid NIfTI file ({exc}); download the dataset again") from None
