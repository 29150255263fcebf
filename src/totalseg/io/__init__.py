"""Image input and output: read NIfTI/NRRD/MHA files (or nibabel images) into a
:class:`~totalseg.imaging.volume.Volume` through plug-in readers, write segmentations as one uint8
multilabel NIfTI carrying the official label-name header extension or as one fast, atomically
written ``<name>.nii.gz`` mask per class, and read/write that extension. ``read_ahead`` reads a file in a
forked process while the command imports torch.
"""

from totalseg.io.nifti_ext import add_label_map_to_nifti, load_label_map
from totalseg.io.readers import read_volume, supported_extensions
from totalseg.io.writers import write_class_masks, write_multilabel

__all__ = [
    "add_label_map_to_nifti",
    "load_label_map",
    "read_volume",
    "supported_extensions",
    "write_class_masks",
    "write_multilabel",
]
