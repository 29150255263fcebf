"""Read images into :class:`~totalseg.imaging.volume.Volume`: NIfTI with nibabel, NRRD/MHA with
SimpleITK, DICOM series (folder or zip) with pydicom.

Readers are plug-ins: an object with ``extensions``, ``can_read(path)`` and ``read(path)`` in
:data:`READERS`. Adding a format means adding one class here.

Intensities match what the official tool feeds its models (``nib.load(...).get_fdata()``):
unscaled NIfTI data keeps its on-disk dtype (exactly the same values), scaled data
(``scl_slope``/``scl_inter``) is scaled in float64 as nibabel does, or kept in integers when the
scaling is integral (again the same values). 4-D images keep their first volume with a warning,
as the official tool does. NaNs in a float image become the minimum finite value (and infinities
the finite extremes) with a warning; an image of only NaNs is an error.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zlib
from pathlib import Path
from typing import Protocol

import nibabel as nib
import numpy as np
from nibabel.arrayproxy import is_proxy

from totalseg.errors import InputError
from totalseg.imaging.volume import Volume
from totalseg.io.read_ahead import ReadAhead
from totalseg.limits import check_claimed_size

try:
    from isal import igzip as _igzip  # gunzip with Intel ISA-L: about twice as fast as the gzip module
    from isal.isal_zlib import error as _isal_error
except ImportError:  # pragma: no cover - platforms without an isal wheel
    _igzip = None

ImageSource = str | os.PathLike | nib.Nifti1Image | nib.Nifti2Image | ReadAhead

# What a corrupt or truncated file can raise while nibabel or gzip decode it.
_DECODE_ERRORS = (OSError, EOFError, zlib.error, ValueError, gzip.BadGzipFile, nib.filebasedimages.ImageFileError,
                  nib.spatialimages.HeaderDataError, nib.wrapstruct.WrapStructError,
                  *((_isal_error,) if _igzip is not None else ()))
# A damaged deflate stream or a cut file (the gzip reader may meet it while reading the header).
_CORRUPT_ERRORS = (EOFError, zlib.error, *((_isal_error,) if _igzip is not None else ()))


class Reader(Protocol):
    """A file format: which paths it takes and how to read one into a Volume."""

    extensions: tuple[str, ...]

    def can_read(self, path: Path) -> bool: ...

    def read(self, path: Path) -> Volume: ...


def _has_extension(path: Path, extensions: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(extensions)


class NiftiReader:
    """``.nii`` and ``.nii.gz`` (NIfTI-1 and NIfTI-2) with nibabel; the header is kept."""

    extensions = (".nii", ".nii.gz")

    def can_read(self, path: Path) -> bool:
        return _has_extension(path, self.extensions)

    def read(self, path: Path) -> Volume:
        stream = _igzip.open(path, "rb") if _igzip is not None and path.name.lower().endswith(".gz") else None
        try:
            img = _load_nifti(path, stream)
            if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
                raise InputError(
                    f"{path}: not a single-file NIfTI image ({type(img).__name__}); pass a .nii/.nii.gz file"
                )
            compressed = path.name.lower().endswith(".gz")
            offset = 0 if compressed else int(getattr(img.dataobj, "offset", 0))  # where the voxels start
            check_claimed_size(str(path), img.shape, img.get_data_dtype().itemsize,
                               stored_bytes=max(path.stat().st_size - offset, 0), compressed=compressed)
            return volume_from_nifti(img, source=str(path))
        except _CORRUPT_ERRORS as exc:
            raise InputError(
                f"{path}: the image data is truncated or corrupt ({_reason(exc)}); re-export or re-download it"
            ) from exc
        except _DECODE_ERRORS as exc:
            raise InputError(
                f"{path}: not a readable NIfTI image ({_reason(exc)}); pass a valid .nii/.nii.gz file"
            ) from exc
        finally:
            if stream is not None:
                stream.close()


def _load_nifti(path: Path, stream) -> nib.Nifti1Image | nib.Nifti2Image:
    """``nib.load(path)``, or the same image read from an already decompressing ``stream``."""
    if stream is None:
        return nib.load(path)
    sizeof_hdr = stream.read(4)
    stream.seek(0)
    klass = nib.Nifti2Image if sizeof_hdr in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c") else nib.Nifti1Image
    return klass.from_file_map(klass.make_file_map({"image": stream, "header": stream}))


class SimpleITKReader:
    """``.nrrd``, ``.mha`` and ``.mhd`` with SimpleITK; LPS geometry becomes a RAS affine."""

    extensions = (".nrrd", ".mha", ".mhd")

    def can_read(self, path: Path) -> bool:
        return _has_extension(path, self.extensions)

    def read(self, path: Path) -> Volume:
        import SimpleITK as sitk

        try:
            _check_sitk_header(path)
            img = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise InputError(
                f"{path}: not a readable {_suffix(path)} image ({_reason(exc)}); check the file or convert it to NIfTI"
            ) from exc
        img = _first_volume_sitk(img, str(path))
        array = sitk.GetArrayFromImage(img).transpose(2, 1, 0)  # (Z, Y, X) -> (X, Y, Z), a view
        affine = ras_affine_from_lps(img.GetDirection(), img.GetSpacing(), img.GetOrigin())
        array = _clean_values(array, str(path))
        return Volume(array, affine=affine, header=nifti_header_for(array, affine))


class DicomReader:
    """A DICOM series: a folder, a ``.zip`` of a study or a ``.dcm`` file of the series (see :mod:`totalseg.io.dicom`).

    Needs the ``dicom`` extra (pydicom and the pylibjpeg decoders).
    """

    extensions = (".zip", ".dcm")

    def can_read(self, path: Path) -> bool:
        return path.is_dir() or _has_extension(path, self.extensions)

    def read(self, path: Path) -> Volume:
        from totalseg.io.dicom import read_dicom_series

        return read_dicom_series(path).volume


READERS: list[Reader] = [NiftiReader(), SimpleITKReader(), DicomReader()]
"""The registered readers, tried in order."""


def supported_extensions() -> tuple[str, ...]:
    """The file extensions :func:`read_volume` accepts.

    Examples:
        >>> supported_extensions()
        ('.nii', '.nii.gz', '.nrrd', '.mha', '.mhd', '.zip', '.dcm')
    """
    return tuple(ext for reader in READERS for ext in reader.extensions)


def read_volume(source: ImageSource) -> Volume:
    """Read a 3-D image from a file or a nibabel image.

    Args:
        source: a ``.nii``, ``.nii.gz``, ``.nrrd``, ``.mha`` or ``.mhd`` path, a DICOM folder or
            ``.zip`` (the CT/MR series with the most slices), a
            ``nib.Nifti1Image``/``nib.Nifti2Image`` (its data and header are used, not copied), or
            a :class:`~totalseg.io.read_ahead.ReadAhead` of a file (waits for it).

    Returns:
        A Volume in (X, Y, Z) order with a RAS+ mm affine. NIfTI inputs keep their header and their
        on-disk dtype (float64 when scaled by a non-integral ``scl_slope``/``scl_inter``); NRRD/MHA
        inputs get a NIfTI header built from their geometry (qform and sform codes 1, as ITK writes).

    Raises:
        InputError: a missing, empty, unreadable, truncated or all-NaN file, an unsupported
            extension, or fewer than 3 dimensions. The message names the file and what to do.

    Examples:
        >>> import numpy as np
        >>> img = nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.diag([0.8, 0.8, 2.0, 1.0]))
        >>> vol = read_volume(img)
        >>> vol.shape, vol.spacing_mm, vol.array.dtype
        ((4, 5, 6), (0.8, 0.8, 2.0), dtype('int16'))
    """
    if isinstance(source, (nib.Nifti1Image, nib.Nifti2Image)):
        return volume_from_nifti(source, source="the input image")
    if isinstance(source, ReadAhead):
        return source.volume()
    path = Path(source)
    _check_file(path)
    for reader in READERS:
        if reader.can_read(path):
            return reader.read(path)
    raise InputError(f"{path}: unsupported file type; pass one of {', '.join(supported_extensions())}")


def volume_from_nifti(img: nib.Nifti1Image | nib.Nifti2Image, *, source: str) -> Volume:
    """A Volume from a nibabel NIfTI image, reading (and checking) all of its data now.

    3-D images keep a copy of their header. Images with more dimensions keep the first volume
    and, as in the official tool, a fresh header built from the affine (sform code 2).

    Examples:
        >>> import numpy as np
        >>> img = nib.Nifti1Image(np.ones((3, 3, 3, 2), np.float32), np.eye(4))
        >>> with warnings.catch_warnings(record=True):
        ...     volume_from_nifti(img, source="x").shape
        (3, 3, 3)
    """
    dtype = img.get_data_dtype()
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise InputError(f"{source}: unsupported voxel type {dtype}; pass a scalar (integer or float) image")
    shape = tuple(int(s) for s in img.shape)
    slicer = _first_volume_slicer(shape, source)
    try:
        array = _scaled_data(img, slicer)
    except _DECODE_ERRORS as exc:
        raise InputError(
            f"{source}: the image data is truncated or corrupt ({_reason(exc)}); re-export or re-download it"
        ) from exc
    array = _clean_values(array, source)
    affine = img.affine if img.affine is not None else img.header.get_best_affine()
    if len(shape) == 3:
        return Volume(array, affine=affine, header=img.header.copy())
    header = nib.Nifti1Image(np.broadcast_to(np.float64(0), array.shape), affine).header
    return Volume(array, affine=affine, header=header)


def ras_affine_from_lps(direction, spacing, origin) -> np.ndarray:
    """The RAS+ voxel-to-world affine of an ITK image (LPS+ direction, spacing in mm, origin).

    Examples:
        >>> ras_affine_from_lps(np.eye(3).ravel(), (2.0, 2.0, 3.0), (10.0, 20.0, 30.0))[:3, 3]
        array([-10., -20.,  30.])
    """
    lps = np.eye(4)
    lps[:3, :3] = np.asarray(direction, dtype=np.float64).reshape(3, 3) * np.asarray(spacing, dtype=np.float64)
    lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def nifti_header_for(array: np.ndarray, affine: np.ndarray) -> nib.Nifti1Header:
    """A NIfTI-1 header for ``array`` at ``affine`` as ITK's NIfTI writer fills it.

    qform and sform both hold the affine with code 1 (scanner), units are mm and seconds.

    Examples:
        >>> import numpy as np
        >>> hdr = nifti_header_for(np.zeros((2, 3, 4), np.int16), np.diag([-1.0, -1.0, 2.0, 1.0]))
        >>> int(hdr["qform_code"]), int(hdr["sform_code"]), [float(z) for z in hdr.get_zooms()]
        (1, 1, [1.0, 1.0, 2.0])
    """
    header = nib.Nifti1Header()
    header.set_data_dtype(array.dtype)
    header.set_data_shape(array.shape)
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm", "sec")
    return header


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if path.is_dir():
        return  # a DICOM folder
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); re-export or re-download it")


def _first_volume_slicer(shape: tuple[int, ...], source: str) -> tuple:
    if len(shape) < 3 or 0 in shape[:3]:
        raise InputError(f"{source}: expected a 3-D image, got shape {shape}; pass one volume")
    extra = shape[3:]
    if any(n > 1 for n in extra):
        warnings.warn(f"{source}: image has shape {shape}; using the first 3-D volume only", UserWarning, stacklevel=3)
    return (slice(None),) * 3 + (0,) * len(extra)


def _scaled_data(img: nib.Nifti1Image, slicer: tuple) -> np.ndarray:
    """The values ``img.get_fdata()[slicer]`` holds, in the narrowest dtype that keeps them exact."""
    proxy = img.dataobj
    if not is_proxy(proxy):  # an in-memory image: nibabel ignores header scaling for arrays
        return _native(np.asanyarray(proxy)[slicer])
    raw = np.asanyarray(proxy.get_unscaled())  # on-disk dtype; reading it all finds truncation now
    raw = _native(raw[slicer] if len(slicer) > 3 else raw)
    slope, inter = float(proxy.slope), float(proxy.inter)
    if slope == 1.0 and inter == 0.0:
        return raw
    if raw.dtype.kind in "biu" and slope.is_integer() and inter.is_integer():
        exact = _integral_scaling(raw, int(slope), int(inter))
        if exact is not None:
            return exact
    scaled = raw.astype(np.float64) * np.float64(slope) if slope != 1.0 else raw.astype(np.float64)
    return scaled + np.float64(inter) if inter != 0.0 else scaled


def _integral_scaling(raw: np.ndarray, slope: int, inter: int) -> np.ndarray | None:
    ends = [int(raw.min()) * slope + inter, int(raw.max()) * slope + inter] if raw.size else [inter]
    for dtype in (np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= min(ends) and max(ends) <= info.max:
            return (raw.astype(np.int64) * slope + inter).astype(dtype)
    return None


def _native(array: np.ndarray) -> np.ndarray:
    # isnative, not byteorder == "=": nibabel spells little-endian "<" even on little-endian
    # machines, and a needless copy of a 512x512x900 CT costs 0.6 s.
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


def _clean_values(array: np.ndarray, source: str) -> np.ndarray:
    """Native byte order; NaN -> minimum finite value, +-inf -> finite extremes; all-NaN is an error."""
    array = _native(array)
    if array.dtype.kind != "f":
        return array
    finite = np.isfinite(array)
    if finite.all():
        return array
    if not finite.any():
        raise InputError(f"{source}: every voxel is NaN or infinite; the image holds no data, check the export")
    low, high = array[finite].min(), array[finite].max()
    n_bad = int(array.size - np.count_nonzero(finite))
    warnings.warn(
        f"{source}: {n_bad} of {array.size} voxels are NaN or infinite; NaN set to the minimum {low}, "
        f"infinities to {low}/{high}",
        UserWarning,
        stacklevel=3,
    )
    return np.nan_to_num(array, nan=low, posinf=high, neginf=low)


def _check_sitk_header(path: Path) -> None:
    """The grid an NRRD/MHA header claims against the bytes its data can hold, before reading them.

    A detached header (``.mhd``, an NRRD ``data file:``) counts the data file beside it; any of
    them may be compressed.
    """
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    itemsize = sitk.GetArrayViewFromImage(sitk.Image([1] * reader.GetDimension(), reader.GetPixelID())).itemsize
    check_claimed_size(str(path), reader.GetSize(), itemsize * reader.GetNumberOfComponents(),
                       stored_bytes=_sitk_data_bytes(path), compressed=True)


def _sitk_data_bytes(path: Path) -> int:
    """Bytes an NRRD/MetaImage file and the one data file its header names can hold (unbounded where
    the header names a file list or pattern, which SimpleITK reads piece by piece)."""
    head = path.read_bytes()[:8192].decode("latin-1")
    match = re.search(r"^(?:ElementDataFile\s*=|data ?file:)\s*(.+?)\s*$", head, re.MULTILINE | re.IGNORECASE)
    stored = path.stat().st_size
    if match is None or match.group(1).upper() == "LOCAL":
        return stored
    data = path.parent / match.group(1)
    return stored + data.stat().st_size if data.is_file() else 2**62


def _first_volume_sitk(img, source: str):
    import SimpleITK as sitk

    size = list(img.GetSize())
    if img.GetDimension() < 3:
        raise InputError(f"{source}: expected a 3-D image, got shape {tuple(size)}; pass one volume")
    if img.GetDimension() > 3:
        if any(n > 1 for n in size[3:]):
            warnings.warn(f"{source}: image has size {tuple(size)}; using the first 3-D volume only", stacklevel=4)
        img = sitk.Extract(img, size[:3] + [0] * (len(size) - 3), [0] * len(size))
    if img.GetNumberOfComponentsPerPixel() > 1:
        warnings.warn(
            f"{source}: {img.GetNumberOfComponentsPerPixel()} components per voxel; using the first", stacklevel=4
        )
        img = sitk.VectorIndexSelectionCast(img, 0)
    return img


def _suffix(path: Path) -> str:
    return next((ext for ext in supported_extensions() if path.name.lower().endswith(ext)), path.suffix)


def _reason(exc: BaseException) -> str:
    """The last non-empty line of an exception message (ITK's are long), kept short."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    return reason[:200]
