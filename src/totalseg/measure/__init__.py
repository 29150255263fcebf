"""Numbers from a segmentation: per-structure statistics, clinical measurements and a preview.

``statistics`` computes ``statistics.json`` exactly as the official tool does (volume in mm3 and
mean intensity of the int16 image per structure, the border rule) plus optional extra metrics;
``clinical`` derives a few screening measurements with published thresholds (bone density at L1,
liver fat, organ volumes, abdominal aorta diameter); ``preview`` renders axial, coronal and
sagittal slices with coloured overlays; ``existing`` writes them for a segmentation made earlier
(``totalseg measure``). Every function takes a
:class:`~totalseg.imaging.volume.Volume` image and its :class:`~totalseg.imaging.volume.LabelVolume`.
"""

import importlib

# Imported on first use: clinical measurements pull in scipy.spatial, which a plain segment run
# (that imports this package for its options) does not need.
_HOMES = {
    "clinical_measurements": "clinical",
    "write_clinical": "clinical",
    "render_preview": "preview",
    "compute_statistics": "statistics",
    "write_statistics": "statistics",
    "measure_segmentation": "existing",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"totalseg.measure.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
