"""Numbers from a segmentation: per-structure statistics, clinical measurements and a preview.

``statistics`` computes ``statistics.json`` exactly as the official tool does (volume in mm3 and
mean intensity of the int16 image per structure, the border rule) plus optional extra metrics;
``clinical`` derives a few screening measurements with published thresholds (bone density at L1,
liver fat, organ volumes, abdominal aorta diameter); ``preview`` renders axial, coronal and
sagittal slices with coloured overlays. Every function takes a
:class:`~totalseg.imaging.volume.Volume` image and its :class:`~totalseg.imaging.volume.LabelVolume`.
"""

from totalseg.measure.clinical import clinical_measurements, write_clinical
from totalseg.measure.preview import render_preview
from totalseg.measure.statistics import compute_statistics, write_statistics

__all__ = ["clinical_measurements", "compute_statistics", "render_preview", "write_clinical", "write_statistics"]
