"""Form fields of ``POST /jobs``, named like the ``totalseg`` command line options, as typed
keyword arguments of :func:`totalseg.api.segment`; unknown fields are refused.

``output_type`` takes the values of ``-ot/--output_type`` (``nifti``, ``dicom_seg``,
``dicom_rtstruct``, several separated by commas or spaces); DICOM types need a DICOM upload."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from totalseg.errors import InputError
from totalseg.io.outputs import DICOM_OUTPUT_TYPES, normalize_output_types

_BOOLS = ("fast", "fastest", "ml", "statistics", "statistics_extra", "qc", "preview", "body_seg",
          "robust_crop", "clinical")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
FIELDS = ("task", "roi_subset", "output_type", *_BOOLS)


def parse_options(form: Mapping[str, str]) -> dict[str, Any]:
    """Typed segment options from form fields (all strings); ``ml`` defaults to true.

    Examples:
        >>> parse_options({"task": "total", "fast": "true", "roi_subset": "liver, spleen"})
        {'ml': True, 'task': 'total', 'fast': True, 'roi_subset': ['liver', 'spleen']}
        >>> parse_options({"speed": "1"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: unknown form field 'speed'; ...
    """
    options: dict[str, Any] = {"ml": True}
    for key, value in form.items():
        if key not in FIELDS:
            raise InputError(f"unknown form field {key!r}; allowed: file, {', '.join(FIELDS)}")
        if key == "task":
            if not re.fullmatch(r"[A-Za-z0-9_]+", value):
                raise InputError(f"task {value!r}: expected a task name such as total; `totalseg info` lists them")
            options["task"] = value
        elif key == "roi_subset":
            options["roi_subset"] = [name for name in re.split(r"[\s,]+", value) if name]
        elif key == "output_type":
            options["output_type"] = _output_types(value)
        else:
            options[key] = _boolean(key, value)
    return options


def wants_dicom(options: Mapping[str, Any]) -> bool:
    """Whether the options ask for a DICOM-SEG or RTSTRUCT (which need a DICOM input).

    Examples:
        >>> wants_dicom(parse_options({"output_type": "nifti,dicom_seg"}))
        True
        >>> wants_dicom({"task": "total"})
        False
    """
    return any(t in DICOM_OUTPUT_TYPES for t in options.get("output_type", ()))


def check_input_kind(options: Mapping[str, Any], input_name: str) -> None:
    """Refuse DICOM output types for an upload that is not a DICOM series (a zip).

    Examples:
        >>> check_input_kind({"output_type": ["dicom_seg"]}, "dicom")
        >>> check_input_kind({"output_type": ["dicom_seg"]}, "image.nii.gz")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: output_type dicom_seg needs a DICOM upload ...
    """
    if wants_dicom(options) and input_name != "dicom":
        types = ",".join(t for t in options["output_type"] if t in DICOM_OUTPUT_TYPES)
        raise InputError(f"output_type {types} needs a DICOM upload (a .zip of the series); "
                         "send the series as a zip or use output_type nifti")


def _output_types(value: str) -> list[str]:
    try:
        return list(normalize_output_types([t for t in re.split(r"[\s,]+", value) if t]))
    except InputError as exc:
        raise InputError(f"form field output_type={value!r}: {exc}") from None


def _boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputError(f"form field {key}={value!r}: expected true or false")
