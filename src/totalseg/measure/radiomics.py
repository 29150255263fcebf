"""``--radiomics``: pyradiomics shape and first-order features of every mask, ``statistics_radiomics.json``.

As the official tool: for each ``*.nii.gz`` in the mask folder (sorted by name), pyradiomics'
``RadiomicsFeatureExtractor`` with the image and masks resampled to 3 mm (``resampledPixelSpacing``),
a geometry tolerance of 1e-3, and only the ``shape`` and ``firstorder`` classes enabled; the
``original_`` prefix is dropped and every value rounded to 4 decimals. A mask that is empty (or all
ones), or on which pyradiomics fails, gets 0 for each feature of the official standard list, with a
warning. The file maps the mask's name (its file name up to the first dot) to its features.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np

from totalseg.measure.files import write_json

RESAMPLED_SPACING_MM = [3, 3, 3]
GEOMETRY_TOLERANCE = 1e-3
FEATURE_CLASSES = ("shape", "firstorder")

# The official fallback for a mask without features: these names, each 0.
_CLASSES = {
    "shape": "Elongation Flatness LeastAxisLength MajorAxisLength Maximum2DDiameterColumn Maximum2DDiameterRow "
             "Maximum2DDiameterSlice Maximum3DDiameter MeshVolume MinorAxisLength Sphericity SurfaceArea "
             "SurfaceVolumeRatio VoxelVolume",
    "firstorder": "10Percentile 90Percentile Energy Entropy InterquartileRange Kurtosis Maximum "
                  "MeanAbsoluteDeviation Mean Median Minimum Range RobustMeanAbsoluteDeviation RootMeanSquared "
                  "Skewness TotalEnergy Uniformity Variance",
    "glcm": "Autocorrelation ClusterProminence ClusterShade ClusterTendency Contrast Correlation DifferenceAverage "
            "DifferenceEntropy DifferenceVariance Id Idm Idmn Idn Imc1 Imc2 InverseVariance JointAverage "
            "JointEnergy JointEntropy MCC MaximumProbability SumAverage SumEntropy SumSquares",
    "gldm": "DependenceEntropy DependenceNonUniformity DependenceNonUniformityNormalized DependenceVariance "
            "GrayLevelNonUniformity GrayLevelVariance HighGrayLevelEmphasis LargeDependenceEmphasis "
            "LargeDependenceHighGrayLevelEmphasis LargeDependenceLowGrayLevelEmphasis LowGrayLevelEmphasis "
            "SmallDependenceEmphasis SmallDependenceHighGrayLevelEmphasis SmallDependenceLowGrayLevelEmphasis",
    "glrlm": "GrayLevelNonUniformity GrayLevelNonUniformityNormalized GrayLevelVariance HighGrayLevelRunEmphasis "
             "LongRunEmphasis LongRunHighGrayLevelEmphasis LongRunLowGrayLevelEmphasis LowGrayLevelRunEmphasis "
             "RunEntropy RunLengthNonUniformity RunLengthNonUniformityNormalized RunPercentage RunVariance "
             "ShortRunEmphasis ShortRunHighGrayLevelEmphasis ShortRunLowGrayLevelEmphasis",
    "glszm": "GrayLevelNonUniformity GrayLevelNonUniformityNormalized GrayLevelVariance HighGrayLevelZoneEmphasis "
             "LargeAreaEmphasis LargeAreaHighGrayLevelEmphasis LargeAreaLowGrayLevelEmphasis "
             "LowGrayLevelZoneEmphasis SizeZoneNonUniformity SizeZoneNonUniformityNormalized SmallAreaEmphasis "
             "SmallAreaHighGrayLevelEmphasis SmallAreaLowGrayLevelEmphasis ZoneEntropy ZonePercentage ZoneVariance",
    "ngtdm": "Busyness Coarseness Complexity Contrast Strength",
}
STANDARD_FEATURES: tuple[str, ...] = tuple(f"{cls}_{name}" for cls, names in _CLASSES.items()
                                           for name in names.split())


def require_pyradiomics() -> None:
    """Raise an ImportError with the install hint unless pyradiomics can be imported."""
    try:
        import radiomics  # noqa: F401
    except ImportError as exc:
        raise ImportError("--radiomics needs pyradiomics: pip install 'totalseg[radiomics]'") from exc


def mask_features(image: str | os.PathLike, mask: str | os.PathLike) -> dict[str, float]:
    """The features of one mask file on ``image`` (both files pyradiomics reads with SimpleITK).

    Examples:
        >>> sorted(mask_features("ct.nii.gz", "liver.nii.gz"))[:2]  # doctest: +SKIP
        ['firstorder_10Percentile', 'firstorder_90Percentile']
    """
    try:
        if len(np.unique(np.asanyarray(nib.load(mask).dataobj))) > 1:
            features = _extract(image, mask)
        else:
            warnings.warn(f"{Path(mask).name}: the mask is all 0 or all 1; its radiomics features are set to 0",
                          stacklevel=2)
            features = dict.fromkeys(STANDARD_FEATURES, 0)
    except Exception as exc:  # noqa: BLE001 - the official tool's contract: any failure gives zeros
        warnings.warn(f"{Path(mask).name}: pyradiomics failed ({exc}); its features are set to 0", stacklevel=2)
        features = dict.fromkeys(STANDARD_FEATURES, 0)
    return {name: round(float(value), 4) for name, value in features.items()}


def _extract(image: str | os.PathLike, mask: str | os.PathLike) -> dict:
    import logging

    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)  # its INFO lines per feature class
    extractor = featureextractor.RadiomicsFeatureExtractor(
        resampledPixelSpacing=RESAMPLED_SPACING_MM, geometryTolerance=GEOMETRY_TOLERANCE, featureClass=["shape"])
    extractor.disableAllFeatures()
    for name in FEATURE_CLASSES:
        extractor.enableFeatureClassByName(name)
    result = extractor.execute(str(image), str(mask))
    return {key.removeprefix("original_"): value for key, value in result.items() if key.startswith("original_")}


def radiomics_of_folder(image: str | os.PathLike, masks: str | os.PathLike | Sequence[Path],
                        output: str | os.PathLike, *, workers: int | None = None) -> dict[str, dict[str, float]]:
    """Features of every ``*.nii.gz`` mask in the folder ``masks`` (or of the given mask files),
    written to ``output`` (``statistics_radiomics.json``) and returned.

    The masks are measured in ``workers`` processes at once (default: one per CPU; the official tool
    measures one after the other); the result is the same, in the same order.
    """
    paths = sorted(Path(masks).glob("*.nii.gz")) if isinstance(masks, (str, os.PathLike)) else list(masks)
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    if workers == 1:
        results = [_measured(image, path) for path in paths]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_measured, [image] * len(paths), paths))
    features = {}
    for path, (values, messages) in zip(paths, results):
        for message in messages:
            warnings.warn(message, stacklevel=2)
        features[path.name.split(".")[0]] = values
    write_json(features, output)
    return features


def _measured(image: str | os.PathLike, mask: Path) -> tuple[dict[str, float], list[str]]:
    """:func:`mask_features` and its warnings' messages (a worker process hands them back)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = mask_features(image, mask)
    return values, [str(w.message) for w in caught]
