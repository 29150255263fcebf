"""Write segmentations as NIfTI: one multilabel file, or one binary ``<name>.nii.gz`` per class.

Outputs carry the input's header as the official tool's do: nibabel's own header logic runs on a
copy of the input header with dtype uint8 (so qform/sform and their codes, pixdim, units,
descrip, cal_min/max and extensions stay; ``scl_slope``/``scl_inter`` become 1/0 as nibabel writes
them for unscaled uint8 data; when the affine differs from the header's, the sform gets the
affine with code 2 and the qform code 0). The header bytes equal those of ``nib.save``.

Per-class masks are the hot path (117 files of up to 236 M voxels). Each ``.nii.gz`` is one
standard gzip member whose deflate stream is spliced from independently compressed pieces
(as pigz does): the header piece is compressed once; runs of zeros come from pieces of
``2**k`` zeros compressed once for all files; only the slices a class occupies are compared and
compressed. CRC-32 over zero runs is computed arithmetically. Files are written in a thread
pool (numpy and zlib release the GIL), each atomically (a temporary file in the same folder,
then ``os.replace``).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.cpus import usable_cpus
from totalseg.errors import OutputError
from totalseg.imaging.volume import Volume
from totalseg.io.atomic import atomic_write_bytes
from totalseg.io.nifti_ext import is_label_map_extension, label_map_extension

try:
    from isal import isal_zlib as _fast_zlib
except ImportError:  # pragma: no cover - platforms without an isal wheel
    _fast_zlib = zlib

GZIP_LEVEL = 1
"""zlib level for voxel data, as nibabel writes ``.nii.gz``."""

_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"  # deflate, no name, mtime 0, "fastest", OS unknown
_FINAL_BLOCK = b"\x03\x00"  # an empty final fixed-Huffman block ends the deflate stream
_CHUNK_BYTES = 4 << 20  # voxels compared / compressed per step and per thread
_MAX_ZERO_POWER = 22  # zero-run pieces of 1 B .. 4 MiB; longer runs repeat the 4 MiB piece


# ---------------------------------------------------------------------------------------------
# CRC-32 arithmetic (zlib's crc32_combine, which Python's zlib does not expose)

_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """Product of two polynomials modulo the CRC-32 polynomial (reflected bit order)."""
    mask, product = 1 << 31, 0
    while True:
        if a & mask:
            product ^= b
            if a & (mask - 1) == 0:
                return product
        mask >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table, power = [], 1 << 30  # x**1
    for _ in range(32):
        table.append(power)
        power = _multmodp(power, power)
    return table


_X2N = _x2n_table()


def _x8nmodp(n_bytes: int) -> int:
    """x**(8 * n_bytes) modulo the CRC polynomial: the operator that appends n zero bytes."""
    power, k = 1 << 31, 3
    while n_bytes:
        if n_bytes & 1:
            power = _multmodp(_X2N[k & 31], power)
        n_bytes >>= 1
        k += 1
    return power


def crc32_zeros(crc: int, n_bytes: int, *, operator: int | None = None) -> int:
    """``zlib.crc32(bytes(n_bytes), crc)`` without touching n_bytes of memory.

    Examples:
        >>> crc32_zeros(zlib.crc32(b"abc"), 1000) == zlib.crc32(b"abc" + bytes(1000))
        True
    """
    op = _x8nmodp(n_bytes) if operator is None else operator
    return _multmodp(op, crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Deflate pieces and one gzip member built from them


def _deflate_piece(data) -> bytes:
    """Raw deflate of ``data`` ending byte-aligned in a non-final block: splices into any stream."""
    comp = _fast_zlib.compressobj(GZIP_LEVEL, _fast_zlib.DEFLATED, -15, 9)
    return comp.compress(data) + comp.flush(_fast_zlib.Z_SYNC_FLUSH)


def _deflate_zeros(n_bytes: int) -> bytes:
    """Like :func:`_deflate_piece` for ``n_bytes`` zeros, with zlib's run-length strategy (compact)."""
    comp = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
    return comp.compress(bytes(n_bytes)) + comp.flush(zlib.Z_SYNC_FLUSH)


@dataclass(frozen=True)
class _ZeroRun:
    """A run of ``n_bytes`` zeros: its deflate pieces and its CRC operator."""

    n_bytes: int
    pieces: tuple[bytes, ...]
    crc_operator: int


class _ZeroPieces:
    """Deflate pieces of ``2**k`` zero bytes, compressed once and shared (read-only) by all files."""

    def __init__(self, max_power: int = _MAX_ZERO_POWER) -> None:
        self._pieces = [_deflate_zeros(1 << k) for k in range(max_power + 1)]

    def pieces(self, n_bytes: int) -> list[bytes]:
        """Pieces for ``n_bytes`` zeros: the largest piece repeated, then the binary digits of the rest."""
        top = len(self._pieces) - 1
        repeats, rest = divmod(n_bytes, 1 << top)
        return [self._pieces[top]] * repeats + [self._pieces[k] for k in range(top) if rest >> k & 1]

    def run(self, n_bytes: int) -> _ZeroRun:
        """A zero run with its CRC operator, for runs whose bytes are not in memory."""
        return _ZeroRun(n_bytes, tuple(self.pieces(n_bytes)), _x8nmodp(n_bytes))


class _GzipMember:
    """One gzip member assembled from deflate pieces, with its CRC-32 and size kept up to date."""

    def __init__(self) -> None:
        self.parts: list[bytes] = [_GZIP_HEADER]
        self.crc = 0
        self.size = 0

    def add_pieces(self, pieces: Iterable[bytes], raw) -> None:
        """Pieces compressed elsewhere that decode to the bytes ``raw``."""
        self.parts.extend(pieces)
        self.crc = _fast_zlib.crc32(raw, self.crc)
        self.size += memoryview(raw).nbytes

    def add_zeros(self, run: _ZeroRun) -> None:
        if run.n_bytes:
            self.parts.extend(run.pieces)
            self.crc = crc32_zeros(self.crc, run.n_bytes, operator=run.crc_operator)
            self.size += run.n_bytes

    def finish(self) -> list[bytes]:
        return [*self.parts, _FINAL_BLOCK, struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)]


# ---------------------------------------------------------------------------------------------
# Headers


def nifti_header_bytes(vol: Volume, *, extensions: Sequence[nib.nifti1.Nifti1Extension] = ()) -> bytes:
    """The bytes before the voxel data of the uint8 ``.nii`` that ``nib.save`` writes for ``vol``.

    Runs nibabel's own header steps on ``Nifti1Image(uint8 data, vol.affine, header with dtype uint8)``
    as the official tool builds its outputs: label tables already in the header are dropped,
    ``extensions`` are appended, the result is padded to ``vox_offset``.

    Examples:
        >>> vol = Volume(np.zeros((2, 3, 4), np.uint8), affine=np.eye(4))
        >>> len(nifti_header_bytes(vol))
        352
    """
    header = None
    if vol.header is not None:
        header = vol.header.copy()
        header.set_data_dtype(np.uint8)
    img = nib.Nifti1Image(np.broadcast_to(np.uint8(0), vol.shape), vol.affine, header)
    hdr = img.header
    kept = [ext for ext in hdr.extensions if not is_label_map_extension(ext)]
    hdr.extensions.clear()
    hdr.extensions.extend([*kept, *extensions])
    img.update_header()
    hdr.set_slope_inter(1.0, 0.0)  # what nibabel's array writer records for unscaled uint8 data
    buffer = io.BytesIO()
    hdr.write_to(buffer)
    raw = buffer.getvalue()
    return raw + bytes(max(0, int(hdr.get_data_offset()) - len(raw)))


# ---------------------------------------------------------------------------------------------
# Public writers


def write_multilabel(
    labels: Volume, path: str | os.PathLike, label_map: Mapping[int, str], *, threads: int | None = None
) -> Path:
    """Write one uint8 multilabel NIfTI with the label names as the official header extension.

    Args:
        labels: label ids (uint8, or integers in 0..255) with the input's affine and header.
        path: a ``.nii.gz`` (gzip level 1, chunks compressed in parallel) or ``.nii`` file.
        label_map: ``{label id: name}``, stored as the official tool stores it.
        threads: compression threads; default: the CPUs this process may use.

    Returns:
        The path written (atomically: a reader never sees a partial file).

    Raises:
        OutputError: bad labels, an unsupported suffix, or the file cannot be written.

    Examples:
        >>> import tempfile
        >>> vol = Volume(np.zeros((4, 4, 4), np.uint8), affine=np.eye(4))
        >>> out = write_multilabel(vol, Path(tempfile.mkdtemp()) / "seg.nii.gz", {1: "spleen"})
        >>> nib.load(out).get_data_dtype()
        dtype('uint8')
    """
    path = Path(path)
    array = _as_uint8(labels)
    header = nifti_header_bytes(labels, extensions=[label_map_extension(label_map)])
    check_multilabel_path(path)
    if path.name.lower().endswith(".nii.gz"):
        with ThreadPoolExecutor(_n_threads(threads)) as pool:
            parts = _gzip_volume(header, array, pool.map)
        atomic_write_bytes(path, parts)
    else:
        atomic_write_bytes(path, [header, *(chunk for _, chunk in _fortran_chunks(array))])
    return path


def check_multilabel_path(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path`` names a file :func:`write_multilabel` can write.

    Examples:
        >>> check_multilabel_path(Path("seg.nii.gz"))
        >>> check_multilabel_path(Path("seg.nrrd"))
        Traceback (most recent call last):
        ...
        totalseg.errors.OutputError: seg.nrrd: unsupported output suffix; name the multilabel file .nii.gz or .nii
    """
    if not path.name.lower().endswith((".nii.gz", ".nii")):
        raise OutputError(f"{path}: unsupported output suffix; name the multilabel file .nii.gz or .nii")


def write_class_masks(
    labels: Volume, out_dir: str | os.PathLike, label_map: Mapping[int, str], *, threads: int | None = None
) -> list[Path]:
    """Write ``<name>.nii.gz`` = ``labels == id`` (uint8) for every class of ``label_map``, empty ones too.

    The files decode (with nibabel, gzip or any zlib reader) to exactly ``labels.array == id``
    with the header ``nib.save`` would write (see :func:`nifti_header_bytes`).

    Args:
        labels: label ids (uint8, or integers in 0..255) with the input's affine and header.
        out_dir: the folder (created when missing).
        label_map: ``{label id: name}``; ids 1..255, names usable as file names.
        threads: files written at once; default: the CPUs this process may use.

    Returns:
        The paths written, in ``label_map`` order.

    Raises:
        OutputError: bad labels or names, or a file cannot be written.

    Examples:
        >>> import tempfile
        >>> arr = np.zeros((4, 4, 4), np.uint8); arr[1:3, 1:3, 1:3] = 2
        >>> paths = write_class_masks(Volume(arr, affine=np.eye(4)), tempfile.mkdtemp(), {1: "a", 2: "b"})
        >>> [int(nib.load(p).get_fdata().sum()) for p in paths]
        [0, 8]
    """
    array = np.asfortranarray(_as_uint8(labels))  # NIfTI order: 6x less CPU than strided reads of a C array
    names = _checked_names(label_map)
    folder = _make_folder(Path(out_dir))
    header = nifti_header_bytes(labels)
    header_piece = _deflate_piece(header)
    z_ranges = _slice_ranges(array)
    zeros = _ZeroPieces()

    def write_one(class_id: int) -> Path:
        member = _GzipMember()
        member.add_pieces([header_piece], header)
        _add_mask(member, array, class_id, z_ranges.get(class_id), zeros)
        path = folder / f"{names[class_id]}.nii.gz"
        atomic_write_bytes(path, member.finish())
        return path

    with ThreadPoolExecutor(_n_threads(threads)) as pool:
        return list(pool.map(write_one, names))


# ---------------------------------------------------------------------------------------------
# Per-class mask bytes


def _slice_ranges(array: np.ndarray) -> dict[int, tuple[int, int]]:
    """``{id: (z0, z1)}``: the slices each id present occupies (a per-slice histogram, one pass)."""
    present = np.zeros((array.shape[2], 256), dtype=bool)
    for z in range(array.shape[2]):
        present[z] = np.bincount(array[:, :, z].ravel(order="F"), minlength=256) > 0
    return {
        int(class_id): (int(np.argmax(column)), len(column) - int(np.argmax(column[::-1])))
        for class_id, column in enumerate(present.T)
        if column.any()
    }


def _add_mask(
    member: _GzipMember, array: np.ndarray, class_id: int, z_range: tuple[int, int] | None, zeros: _ZeroPieces
) -> None:
    """Append the Fortran-order bytes of ``array == class_id`` to ``member``.

    Slices outside ``z_range`` are spliced zero pieces; the slices inside are compared and
    compressed whole, a few MiB at a time. Trimming each slice to the class's rows cost more
    Python per slice than it saved: ISA-L compresses a mostly zero mask at about 10 GB/s.
    """
    nx, ny, nz = array.shape
    slice_bytes = nx * ny
    z0, z1 = z_range or (0, 0)
    member.add_zeros(zeros.run(z0 * slice_bytes))
    comp = _fast_zlib.compressobj(GZIP_LEVEL, _fast_zlib.DEFLATED, -15, 9)
    step = max(1, _CHUNK_BYTES // slice_bytes)
    block = np.empty((nx, ny, max(0, min(step, z1 - z0))), dtype=bool, order="F")
    for z in range(z0, z1, step):
        out = block[:, :, : min(step, z1 - z)]
        np.equal(array[:, :, z : z + out.shape[2]], class_id, out=out)
        raw = memoryview(out.view(np.uint8).T.reshape(-1))  # the block's bytes in NIfTI order
        member.add_pieces([comp.compress(raw)], raw)
    if z1 > z0:
        member.add_pieces([comp.flush(_fast_zlib.Z_SYNC_FLUSH)], b"")
    member.add_zeros(zeros.run((nz - z1) * slice_bytes))


# ---------------------------------------------------------------------------------------------
# Whole volumes, files and checks


def _fortran_chunks(array: np.ndarray) -> Iterable[tuple[int, memoryview]]:
    """Yield ``(z, bytes)`` of ``array`` in NIfTI (Fortran) order, a few MiB at a time."""
    nx, ny, nz = array.shape
    step = max(1, _CHUNK_BYTES // max(1, nx * ny))
    for z in range(0, nz, step):
        block = np.asfortranarray(array[:, :, z : z + step])
        yield z, memoryview(block.T.reshape(-1))


def _gzip_volume(header: bytes, array: np.ndarray, map_fn: Callable) -> list[bytes]:
    """A gzip member of ``header`` + the voxels, chunks compressed with ``map_fn`` (e.g. a pool's map)."""
    chunks = [header, *(chunk for _, chunk in _fortran_chunks(array))]
    member = _GzipMember()
    for piece, raw in zip(map_fn(_deflate_piece, chunks), chunks):
        member.add_pieces([piece], raw)
    return member.finish()


def _as_uint8(labels: Volume) -> np.ndarray:
    array = labels.array
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "biuf":
        raise OutputError(f"labels must be integers in 0..255, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 255 or (array.dtype.kind == "f" and (array % 1).any())):
        raise OutputError(f"labels must be integers in 0..255, got values {array.min()}..{array.max()} ({array.dtype})")
    return array.astype(np.uint8)


def _checked_names(label_map: Mapping[int, str]) -> dict[int, str]:
    names = {int(k): str(v) for k, v in label_map.items()}
    if not names:
        raise OutputError("label_map is empty; pass {label id: name} for the classes to write")
    for class_id, name in names.items():
        if not 1 <= class_id <= 255:
            raise OutputError(f"label id {class_id} ({name!r}) is outside 1..255; uint8 masks cannot hold it")
        if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
            raise OutputError(f"class name {name!r} (id {class_id}) is not a usable file name")
    if len(set(names.values())) != len(names):
        raise OutputError("label_map repeats a class name; each class needs its own file")
    return names


def _make_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OutputError(f"{folder}: exists and is not a folder; pass a folder for the per-class masks") from exc
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
    return folder


def _n_threads(threads: int | None) -> int:
    if threads is not None:
        if threads < 1:
            raise OutputError(f"threads must be >= 1, got {threads}")
        return threads
    return max(1, min(usable_cpus(), 16))
