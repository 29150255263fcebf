"""Read one DICOM image series from a folder or a zip of a study into a :class:`Volume`.

Every file is parsed (headers first, pixel data only for the chosen series); files that are not
DICOM are skipped with a warning. Image files are grouped by Series Instance UID. Among the CT and
MR series the one with the most slices is used, and a warning names it when there was a choice.

Geometry comes from Image Position/Orientation (Patient) only: slices are sorted along the
normal of the image plane, the slice step is the mean step between positions, and the affine's
third column is that step. With gantry tilt the step is not parallel to the normal: the affine is
then sheared, which places every voxel exactly where the scanner put it (a warning gives the
angle), and outputs map back onto the source slices one to one. Missing slices, uneven spacing,
mixed image sizes, duplicate positions and slices off a straight line are refused with a message.

Pixel data of any transfer syntax pydicom can decode is read: uncompressed, deflate, RLE
(pydicom), JPEG 2000, JPEG-LS, JPEG lossless and baseline (pylibjpeg plug-ins, the ``dicom``
extra). Rescale Slope/Intercept are applied per slice: integer results are int16 (int32 when the
range needs it), others float32.

Archives from the field sometimes have blank UIDs (a crude de-identification). Blank SOP Instance
and SOP Class UIDs are taken from the file meta; blank Study, Series and Frame of Reference UIDs
get new UIDs derived from the instance UIDs (the same on every run); a warning says so. DICOM
outputs then reference these UIDs.
"""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.volume import Volume
from totalseg.io.readers import nifti_header_for
from totalseg.transfer.archive import _safe_relative

IMAGE_MODALITIES = ("CT", "MR")
"""Modalities whose series can be segmented."""

_SPACING_RTOL = 0.01  # slice steps may differ by 1 % of the median step ...
_SPACING_ATOL_MM = 0.01  # ... or by 0.01 mm, whichever is larger
_TILT_MIN_DEG = 0.01  # a smaller angle between slice step and plane normal is rounding, not tilt
_SOP_CLASS_BY_MODALITY = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4"}
_IGNORED_NAMES = ("DICOMDIR", ".DS_Store", "Thumbs.db")


def _pydicom():
    try:
        import pydicom
    except ImportError:
        raise InputError("reading DICOM needs pydicom: pip install 'totalseg[dicom]'") from None
    return pydicom


@dataclass(frozen=True, eq=False)
class DicomSeries:
    """One image series: its volume and the headers (no pixel data) of its slices in volume order.

    ``datasets[k]`` is the slice at ``volume.array[:, :, k]``; its UIDs are filled where the
    source left them blank. ``description`` says which series this is, for messages.
    """

    volume: Volume
    datasets: tuple
    modality: str
    description: str

    @property
    def study_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)

    @property
    def series_uid(self) -> str:
        return str(self.datasets[0].SeriesInstanceUID)


def is_dicom_source(path: str | Path) -> bool:
    """Whether ``path`` is something :func:`read_dicom_series` reads: a folder, a zip or a ``.dcm`` file.

    Examples:
        >>> is_dicom_source("study.zip"), is_dicom_source("ct.nii.gz")
        (True, False)
    """
    path = Path(path)
    return path.is_dir() or path.name.lower().endswith((".zip", ".dcm"))


def read_dicom_series(source: str | Path) -> DicomSeries:
    """Read the CT/MR series with the most slices from a folder, a zip, or the folder of a ``.dcm`` file.

    Args:
        source: a folder (searched recursively), a ``.zip`` of a study, or one ``.dcm`` file of a
            series (its folder is read).

    Returns:
        The series: volume in (X, Y, Z) = (column, row, slice) order with a RAS+ mm affine,
        rescaled values (HU for CT), and the slice headers in the same order.

    Raises:
        InputError: no DICOM files, no CT/MR image series, a single slice, mixed image sizes,
            missing slices, uneven spacing, duplicate positions, or undecodable pixel data.

    Examples:
        >>> series = read_dicom_series("ct_series/")  # doctest: +SKIP
        >>> series.volume.spacing_mm  # doctest: +SKIP
        (0.9765625, 0.9765625, 3.0)
    """
    pydicom = _pydicom()
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: not found; pass a DICOM folder or a .zip of one study")
    if path.is_file() and path.suffix.lower() == ".dcm":
        path = path.parent
    with _Files(path) as files:
        headers = _read_headers(files, pydicom)
        slices, description = _choose_series(path, headers)
        order, affine = _geometry(path, [ds for _, ds in slices])
        slices = [slices[k] for k in order]
        array = _pixels(files, [name for name, _ in slices], pydicom)
    datasets = _filled_uids([ds for _, ds in slices], path, pydicom)
    volume = Volume(array, affine=affine, header=nifti_header_for(array, affine))
    return DicomSeries(volume, tuple(datasets), str(datasets[0].Modality), description)


def read_dicom_input(source: object) -> DicomSeries | None:
    """The DICOM series of ``source`` when it is a DICOM folder, zip or ``.dcm`` path; else ``None``.

    Examples:
        >>> read_dicom_input("ct.nii.gz") is None
        True
    """
    if not isinstance(source, (str, os.PathLike)) or not is_dicom_source(source):
        return None
    return read_dicom_series(source)


def default_task(series: DicomSeries | None) -> str:
    """The task a modality calls for: ``total_mr`` for an MR series, ``total`` otherwise.

    Examples:
        >>> default_task(None)
        'total'
    """
    return "total_mr" if series is not None and series.modality == "MR" else "total"


# ---------------------------------------------------------------------------------------------
# Files


class _Files:
    """The files of a folder (recursive) or of a zip, opened one at a time.

    Zip members are read into memory one file at a time, never extracted; members with absolute
    paths, ``..`` components or symlinks make the archive refused, as extraction would.
    """

    def __init__(self, path: Path):
        self.path = path
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> _Files:
        if self.path.is_file():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                raise InputError(
                    f"{self.path}: not a readable zip file ({exc}); pass a DICOM folder or a valid .zip"
                ) from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self._zip is not None:
            self._zip.close()

    def names(self) -> list[str]:
        if self._zip is None:
            return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())
        names = []
        for info in self._zip.infolist():
            if _safe_relative(info, str(self.path)) is not None and not info.is_dir():
                names.append(info.filename)
        return names

    def open(self, name: str):
        if self._zip is None:
            return self.path / name
        try:
            return io.BytesIO(self._zip.read(name))
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.path}: member {name!r} is corrupt ({exc}); re-create the zip") from None


def _read_headers(files: _Files, pydicom) -> list[tuple[str, object]]:
    """(name, header) of every DICOM file; others are skipped (with a warning), none at all is an error."""
    found, skipped = [], []
    path = files.path
    for name in files.names():
        if Path(name).name in _IGNORED_NAMES or Path(name).name.startswith("."):
            continue
        try:
            ds = pydicom.dcmread(files.open(name), stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, EOFError, ValueError, OSError):
            skipped.append(name)
            continue
        found.append((name, ds))
    if not found:
        what = f"{len(skipped)} files, none of them DICOM" if skipped else "no files"
        raise InputError(f"{path}: {what}; pass a folder or .zip holding one DICOM series")
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} non-DICOM file(s), e.g. {skipped[0]}", UserWarning, stacklevel=3
        )
    return found


# ---------------------------------------------------------------------------------------------
# Series selection


def _series_key(ds) -> str:
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    if uid:
        return uid
    # Blank UIDs: one series per series number and modality (all there is to go on).
    return f"(no UID) number {ds.get('SeriesNumber', '') or '?'} {ds.get('Modality', '') or '?'}"


def _is_image(ds) -> bool:
    return all(key in ds for key in ("Rows", "Columns", "ImagePositionPatient", "ImageOrientationPatient"))


def _describe(ds, n_slices: int) -> str:
    number = ds.get("SeriesNumber", None)
    text = str(ds.get("SeriesDescription", "") or "").strip()
    label = f"series {number}" if number not in (None, "") else "series"
    if text:
        label += f" {text!r}"
    return f"{label} ({ds.get('Modality', '?')}, {n_slices} slices)"


def _choose_series(path: Path, headers: list) -> tuple[list, str]:
    groups: dict[str, list] = {}
    for member, ds in headers:
        if _is_image(ds):
            groups.setdefault(_series_key(ds), []).append((member, ds))
    frames = [ds for _, ds in headers if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    candidates = {k: v for k, v in groups.items() if str(v[0][1].get("Modality", "")) in IMAGE_MODALITIES}
    if not candidates:
        found = sorted({str(ds.get("Modality", "?")) for _, ds in headers})
        hint = "; multi-frame (enhanced) images are not supported, export classic single-frame images" if frames else ""
        raise InputError(
            f"{path}: no CT or MR image series (found {len(headers)} DICOM files of modality "
            f"{', '.join(found)}){hint}; pass a study holding a CT or MR series"
        )
    ranked = sorted(candidates.values(), key=lambda s: len(s), reverse=True)
    chosen = _one_orientation(path, ranked[0])
    description = _describe(chosen[0][1], len(chosen))
    if len(ranked) > 1:
        others = "; ".join(_describe(s[0][1], len(s)) for s in ranked[1:4])
        warnings.warn(
            f"{path}: {len(ranked)} image series; using {description} (the most slices); also there: {others}",
            UserWarning,
            stacklevel=3,
        )
    return chosen, description


def _one_orientation(path: Path, slices: list) -> list:
    """The slices of the series' main orientation (localizers in the same series are dropped)."""
    groups: dict[tuple, list] = {}
    for item in slices:
        key = tuple(round(float(v), 3) for v in item[1].ImageOrientationPatient)
        groups.setdefault(key, []).append(item)
    main = max(groups.values(), key=len)
    if len(main) < len(slices):
        warnings.warn(
            f"{path}: the series holds {len(groups)} image orientations; using the {len(main)} slices of the "
            f"main one, {len(slices) - len(main)} others (localizers?) are ignored",
            UserWarning,
            stacklevel=4,
        )
    sizes = {(int(ds.Rows), int(ds.Columns)) for _, ds in main}
    if len(sizes) > 1:
        shown = ", ".join(f"{r}x{c}" for r, c in sorted(sizes))
        raise InputError(f"{path}: the series mixes image sizes ({shown}); export one series with one image size")
    return main


# ---------------------------------------------------------------------------------------------
# Geometry


def _geometry(path: Path, datasets: list) -> tuple[list[int], np.ndarray]:
    """Slice order along the plane normal and the RAS+ affine; refuses grids that are not regular."""
    if len(datasets) < 2:
        raise InputError(f"{path}: the series has {len(datasets)} slice; a 3-D volume needs at least 2")
    iop = np.asarray([float(v) for v in datasets[0].ImageOrientationPatient])
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.asarray([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    along = positions @ normal
    order = [int(k) for k in np.argsort(along, kind="stable")]
    positions, along = positions[order], along[order]
    steps = np.diff(along)
    if np.any(steps < 1e-4):
        n_dup = int(np.count_nonzero(steps < 1e-4))
        raise InputError(
            f"{path}: {n_dup} slice(s) share a position with another (several volumes, echoes or phases in one "
            "series?); export one volume per series"
        )
    _check_spacing(path, steps, along)
    step = (positions[-1] - positions[0]) / (len(positions) - 1)
    expected = positions[0] + np.outer(np.arange(len(positions)), step)
    off_line = float(np.abs(positions - expected).max())
    if off_line > max(_SPACING_RTOL * float(np.linalg.norm(step)), _SPACING_ATOL_MM):
        raise InputError(
            f"{path}: slice positions are not on a straight line (off by up to {off_line:.2f} mm); "
            "export the series as one regular stack"
        )
    _warn_tilt(path, step, normal)
    spacing = [float(v) for v in datasets[0].get("PixelSpacing", [1.0, 1.0])]
    if "PixelSpacing" not in datasets[0]:
        warnings.warn(f"{path}: no Pixel Spacing; assuming 1 mm pixels", UserWarning, stacklevel=3)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * spacing[1]  # along a row = increasing column index
    lps[:3, 1] = col_dir * spacing[0]
    lps[:3, 2] = step
    lps[:3, 3] = positions[0]
    return order, np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # LPS -> RAS


def _check_spacing(path: Path, steps: np.ndarray, along: np.ndarray) -> None:
    median = float(np.median(steps))
    tolerance = max(_SPACING_RTOL * median, _SPACING_ATOL_MM)
    if np.all(np.abs(steps - median) <= tolerance):
        return
    ratios = steps / median
    gaps = np.flatnonzero(np.abs(ratios - np.round(ratios)) * median <= tolerance)
    gaps = gaps[np.round(ratios[gaps]) >= 2]
    if gaps.size and np.all(np.abs(np.delete(steps, gaps) - median) <= tolerance):
        missing = int(np.round(ratios[gaps]).sum() - gaps.size)
        k = int(gaps[0])
        raise InputError(
            f"{path}: {missing} slice(s) missing (a gap of {steps[k]:.2f} mm after the slice at {along[k]:.2f} mm "
            f"where the spacing is {median:.2f} mm); export the complete series"
        )
    raise InputError(
        f"{path}: uneven slice spacing ({steps.min():.3f} to {steps.max():.3f} mm); "
        "resample it to a regular grid (e.g. with dcm2niix) or export a series with constant spacing"
    )


def _warn_tilt(path: Path, step: np.ndarray, normal: np.ndarray) -> None:
    cos = abs(float(step @ normal)) / float(np.linalg.norm(step))
    angle = math.degrees(math.acos(min(1.0, cos)))
    if angle > _TILT_MIN_DEG:
        warnings.warn(
            f"{path}: slices are stacked at {angle:.2f} degrees to the image normal (gantry tilt); "
            "the volume keeps the exact sheared geometry (NIfTI outputs hold it in the sform)",
            UserWarning,
            stacklevel=3,
        )


# ---------------------------------------------------------------------------------------------
# Pixel data


def _pixels(files: _Files, names: list[str], pydicom) -> np.ndarray:
    """Rescaled pixel data of the sorted slices as an (X, Y, Z) array."""
    frames, slopes, intercepts = [], [], []
    for name in names:
        ds = pydicom.dcmread(files.open(name))
        frames.append(_decoded(files.path / name if files.path.is_dir() else files.path, ds))
        slopes.append(float(ds.get("RescaleSlope", 1) or 1))
        intercepts.append(float(ds.get("RescaleIntercept", 0) or 0))
    raw = np.stack(frames)  # (Z, rows, columns)
    values = _rescaled(raw, np.asarray(slopes), np.asarray(intercepts))
    return values.transpose(2, 1, 0)  # (columns, rows, Z): X along a row, Y down the columns


def _decoded(path: Path, ds) -> np.ndarray:
    syntax = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise InputError(f"{path}: colour images ({ds.get('PhotometricInterpretation')}) are not CT/MR data")
    try:
        frame = ds.pixel_array
    except (NotImplementedError, RuntimeError, ValueError, AttributeError) as exc:
        name = getattr(syntax, "name", str(syntax))
        raise InputError(
            f"{path}: cannot decode pixel data with transfer syntax {name} ({str(exc).splitlines()[0][:160]}); "
            "install the decoders: pip install 'totalseg[dicom]'"
        ) from exc
    if frame.ndim != 2:
        raise InputError(f"{path}: expected one 2-D frame per file, got shape {frame.shape}")
    return frame


def _rescaled(raw: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    """``raw * slope + intercept`` per slice; integers stay integers when the result allows."""
    integral = np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts))
    if raw.dtype.kind in "iu" and integral:
        if np.all(slopes == 1) and np.all(intercepts == 0) and raw.dtype in (np.int16, np.uint8, np.int8):
            return raw.astype(np.int16)
        lo = float(raw.min()) * slopes + intercepts
        hi = float(raw.max()) * slopes + intercepts
        low, high = float(np.minimum(lo, hi).min()), float(np.maximum(lo, hi).max())
        dtype = np.int16 if -(2**15) <= low and high < 2**15 else np.int32
        out = raw.astype(np.int64) * slopes.astype(np.int64)[:, None, None] + intercepts.astype(np.int64)[:, None, None]
        return out.astype(dtype)
    out = raw.astype(np.float64) * slopes[:, None, None] + intercepts[:, None, None]
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# UIDs


def _filled_uids(datasets: list, path: Path, pydicom) -> list:
    """Fill blank UIDs (from the file meta or derived deterministically) so outputs can reference them."""
    filled = set()
    for ds in datasets:
        meta = getattr(ds, "file_meta", None)
        if not str(ds.get("SOPInstanceUID", "") or ""):
            meta_uid = str(meta.get("MediaStorageSOPInstanceUID", "") or "") if meta else ""
            ds.SOPInstanceUID = meta_uid or pydicom.uid.generate_uid()
            filled.add("SOP Instance UID")
        if not str(ds.get("SOPClassUID", "") or ""):
            meta_class = str(meta.get("MediaStorageSOPClassUID", "") or "") if meta else ""
            ds.SOPClassUID = meta_class or _SOP_CLASS_BY_MODALITY.get(str(ds.get("Modality", "")), "")
            filled.add("SOP Class UID")
    instance_uids = [str(ds.SOPInstanceUID) for ds in datasets]
    for keyword, label in (
        ("StudyInstanceUID", "Study Instance UID"),
        ("SeriesInstanceUID", "Series Instance UID"),
        ("FrameOfReferenceUID", "Frame of Reference UID"),
    ):
        if any(not str(ds.get(keyword, "") or "") for ds in datasets):
            uid = pydicom.uid.generate_uid(entropy_srcs=[keyword, *instance_uids])
            for ds in datasets:
                if not str(ds.get(keyword, "") or ""):
                    setattr(ds, keyword, uid)
            filled.add(label)
    if filled:
        warnings.warn(
            f"{path}: blank {', '.join(sorted(filled))} filled (from the file meta or as new UIDs derived from the "
            "instances); DICOM outputs reference these",
            UserWarning,
            stacklevel=3,
        )
    return datasets
