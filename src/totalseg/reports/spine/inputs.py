"""What the spine report reads: the CT, the vertebrae masks and the contrast phase.

The official ``totalseg_spine_report`` (2.18.0) keeps two intermediate files in its working folder
and computes only those missing: ``totalseg_vertebrae_pp_refined.nii.gz`` (``TotalSegmentator -ta
vertebrae_pp_refined -ml -ns 1``) and ``contrast_phase.json`` (``totalseg_get_phase``). We read the
same files from the intermediate folder and compute what is missing with our engine
(:func:`totalseg.api.segment`, :func:`totalseg.measure.phase.get_phase`), writing it there.

Both images go to the closest canonical (RAS) orientation. Voxel sizes are what nibabel reports for
the canonical image, as the official code reads them: the header's ``pixdim`` where the image is
already canonical, else the canonical affine's column norms (float32).

Examples:
    >>> import numpy as np
    >>> from totalseg.imaging.volume import Volume
    >>> vol = Volume(np.zeros((2, 3, 4)), affine=np.diag([-0.8, 0.8, 1.5, 1.0]))
    >>> [float(z) for z in canonical(vol)[1]]
    [0.800000011920929, 0.800000011920929, 1.5]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.errors import InputError
from totalseg.imaging.orientation import to_canonical
from totalseg.imaging.volume import LabelVolume, Volume
from totalseg.io import read_volume

VERTEBRAE_FILE = "totalseg_vertebrae_pp_refined.nii.gz"
PHASE_FILE = "contrast_phase.json"
VERTEBRAE_TASK = "vertebrae_pp_refined"


@dataclass(frozen=True)
class SpineInputs:
    """The canonical CT and labels, their voxel sizes (float32, as nibabel reports them), the label
    map and the contrast phase."""

    ct: Volume
    labels: LabelVolume
    ct_spacing: tuple[np.float32, np.float32, np.float32]
    label_spacing: tuple[np.float32, np.float32, np.float32]
    label_map: dict[int, str]
    phase: str


def canonical(vol: Volume) -> tuple[Volume, tuple[np.float32, ...]]:
    """``vol`` in RAS order and its voxel sizes as ``nibabel.as_closest_canonical(img).header.get_zooms()``."""
    ras, how = to_canonical(vol)
    if how.is_identity and vol.header is not None:
        return ras, tuple(np.float32(z) for z in vol.header.get_zooms()[:3])
    return ras, tuple(np.sqrt((ras.affine[:3, :3] ** 2).sum(axis=0)).astype(np.float32))


def vertebrae_file(ct_path: str | os.PathLike, work_dir: Path, *, device: str, download: bool, quiet: bool,
                   settings=None) -> Path:
    """The vertebrae masks in ``work_dir``, segmented first (our engine, as the official run) if missing."""
    path = work_dir / VERTEBRAE_FILE
    if not path.exists():
        from totalseg.api import segment

        segment(ct_path, path, task=VERTEBRAE_TASK, ml=True, device=device, download=download, quiet=quiet,
                settings=settings)
    return path


def contrast_phase(ct_path: str | os.PathLike, work_dir: Path, *, device: str, download: bool, quiet: bool,
                   settings=None) -> str:
    """The ``phase`` of ``work_dir/contrast_phase.json``, predicted first (and written there) if missing."""
    from totalseg.measure.files import write_json

    path = work_dir / PHASE_FILE
    if not path.exists():
        from totalseg.measure.phase import get_phase

        write_json(get_phase(ct_path, device=device, download=download, quiet=quiet, settings=settings), path)
    try:
        phase = json.loads(path.read_text())["phase"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: no 'phase' in it ({exc!r}); pass the JSON `totalseg phase` writes") from None
    return str(phase)


def read_inputs(ct_path: str | os.PathLike, vertebrae_path: Path, phase: str) -> SpineInputs:
    """Read the CT and the vertebrae masks (same grid) into :class:`SpineInputs`."""
    from totalseg.anatomy.class_maps import class_map
    from totalseg.io.nifti_ext import load_label_map

    ct, ct_spacing = canonical(read_volume(ct_path))
    raw = read_volume(vertebrae_path)
    array = np.asarray(raw.array)
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise InputError(f"{vertebrae_path}: expected integer labels, got fractional values; pass the "
                             "vertebrae_pp_refined multilabel file")
        array = array.astype(np.int32)
    labels, label_spacing = canonical(LabelVolume(array, affine=raw.affine, header=raw.header))
    if labels.shape != ct.shape:
        raise InputError(f"{vertebrae_path}: its grid {labels.shape} differs from the CT's {ct.shape}; pass "
                         "masks segmented on this CT")
    try:
        label_map = load_label_map(vertebrae_path)
    except InputError:
        label_map = class_map(VERTEBRAE_TASK)  # a file without the label extension: the task's ids
    return SpineInputs(ct, labels, ct_spacing, label_spacing, label_map, phase)
