"""``--save_probabilities``: nnU-Net's softmax output of a model, as the official tool hands it over.

With ``-sp PATH`` the official tool lets nnU-Net export the probabilities of each model it runs
(``s01.npz`` and ``s01.pkl``) and copies them to ``PATH`` and ``PATH`` with the suffix ``.pkl``; the
last model of the task overwrites the earlier ones, and of a volume split into three slabs the first
slab's are kept (``s01``). The files describe the image nnU-Net read, i.e. the model grid (cropped,
closest canonical, resampled to the task spacing):

- ``PATH``: a NumPy ``.npz`` with one array, ``probabilities`` (classes, *reader grid*) float32: the
  softmax over the channels, outside nnU-Net's non-zero crop 1 for background and 0 elsewhere, in
  the array order nnU-Net's reader gives (the NIfTI axes reversed, after ``transpose_backward``).
- ``PATH.pkl``: nnU-Net's properties of that image (a pickle of plain types; totalseg only writes it):
  the reader's geometry (``sitk_stuff`` or ``nibabel_stuff``), ``spacing``, ``shape_before_cropping``,
  ``bbox_used_for_cropping``, ``shape_after_cropping_and_before_resampling``.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel import orientations as ornt

from totalseg.engine.preprocess import Preprocessed
from totalseg.io.atomic import atomic_path
from totalseg.models.readers import get_reader

# nnU-Net's export runs torch with ``default_num_processes`` (8) threads; torch's vectorized and scalar
# exp differ in the last bit, and which voxels take which path depends on the thread split, so the
# same count gives the same bits.
EXPORT_THREADS = 8


def properties_path(path: str | os.PathLike) -> Path:
    """Where the properties go: ``path`` with its last suffix replaced by ``.pkl``, as the official tool.

    Examples:
        >>> properties_path("out/probs.npz").as_posix(), properties_path("probs").as_posix()
        ('out/probs.pkl', 'probs.pkl')
    """
    return Path(path).with_suffix(".pkl")


def nnunet_properties(affine: np.ndarray, zooms: tuple[float, ...], shape: tuple[int, ...], reader: str,
                      spacing: tuple[float, ...], pre: Preprocessed) -> dict:
    """The properties dict nnU-Net keeps for an image file of this header, read with ``reader``.

    Args:
        affine, zooms, shape: the header (4x4 affine, ``pixdim`` voxel sizes) and (X, Y, Z) shape of
            the NIfTI file the model reads.
        reader: the plans' ``image_reader_writer``.
        spacing: the reader's spacing, (Z, Y, X) order (``ReaderView.spacing``).
        pre: the preprocessing of that image (crop box and shapes).
    """
    library = get_reader(reader).library
    with tempfile.TemporaryDirectory(prefix="totalseg-sp-") as scratch:
        header_file = Path(scratch) / "header.nii.gz"
        image = nib.Nifti1Image(np.zeros((1, 1, 1), np.uint8), affine)
        image.header.set_zooms(zooms)
        nib.save(image, header_file)
        if library == "sitk":
            props = {"sitk_stuff": _sitk_geometry(header_file, shape, reorient=get_reader(reader).reorients),
                     "spacing": [np.float64(abs(s)) for s in spacing]}
        else:
            props = {"nibabel_stuff": _nibabel_geometry(header_file, shape, reorient=get_reader(reader).reorients),
                     "spacing": [float(s) for s in spacing]}
    props["shape_before_cropping"] = tuple(int(n) for n in pre.shape)
    props["bbox_used_for_cropping"] = [[int(s.start), int(s.stop)] for s in pre.bbox]
    props["shape_after_cropping_and_before_resampling"] = tuple(int(n) for n in pre.cropped_shape)
    return props


def _sitk_geometry(header_file: Path, shape: tuple[int, ...], *, reorient: bool) -> dict:
    """SimpleITK's spacing, origin and direction of the file (after ``DICOMOrient`` to RAS for the
    reorienting reader); the geometry of an image of ``shape`` with the file's header."""
    import SimpleITK as sitk

    small = sitk.ReadImage(str(header_file))
    image = sitk.Image([int(n) for n in shape], sitk.sitkUInt8)
    image.SetSpacing(small.GetSpacing())
    image.SetOrigin(small.GetOrigin())
    image.SetDirection(small.GetDirection())
    geometry = {}
    if reorient:
        original = sitk.DICOMOrientImageFilter_GetOrientationFromDirectionCosines(image.GetDirection())
        image = sitk.DICOMOrient(image, "RAS")
    geometry.update(spacing=image.GetSpacing(), origin=image.GetOrigin(), direction=image.GetDirection())
    if reorient:
        geometry["original_orientation"] = original
    return geometry


def _nibabel_geometry(header_file: Path, shape: tuple[int, ...], *, reorient: bool) -> dict:
    """nibabel's affine of the file (and of its reorientation to RAS for the reorienting reader)."""
    affine = nib.load(header_file).affine
    if not reorient:
        return {"original_affine": affine}
    transform = ornt.io_orientation(affine)
    return {"original_affine": affine, "reoriented_affine": affine.dot(ornt.inv_ornt_aff(transform, shape))}


def export_probabilities(logits: np.ndarray, pre: Preprocessed, transpose_backward) -> np.ndarray:
    """Softmax of ``logits`` (classes, *cropped grid*, any float dtype) put back into the uncropped,
    un-transposed reader grid as nnU-Net exports them: float32, background 1 outside the crop."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(EXPORT_THREADS)  # the softmax's last bits depend on how the threads split it
    try:
        probs = torch.softmax(torch.from_numpy(np.asarray(logits)).float(), 0).numpy()
    finally:
        torch.set_num_threads(threads)
    full = np.zeros((probs.shape[0], *pre.shape), dtype=np.float32)
    full[0] = 1
    full[(slice(None), *pre.bbox)] = probs
    return full.transpose([0, *[i + 1 for i in transpose_backward]])


def write_probabilities(path: str | os.PathLike, probabilities: np.ndarray, properties: dict) -> tuple[Path, Path]:
    """``path`` (``.npz`` with ``probabilities``) and its ``.pkl`` properties, each written atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a handle: numpy appends no ".npz"
        np.savez_compressed(handle, probabilities=probabilities)
    with atomic_path(properties_path(path)) as tmp, open(tmp, "wb") as handle:
        pickle.dump(properties, handle)
    return path, properties_path(path)
