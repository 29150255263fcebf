"""Form fields of ``POST /jobs``, named like the ``totalseg`` command line options, as typed
keyword arguments of :func:`totalseg.api.segment`; unknown fields are refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from totalseg.errors import InputError

_BOOLS = ("fast", "fastest", "ml", "statistics", "statistics_extra", "qc", "preview", "body_seg",
          "robust_crop", "clinical")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
FIELDS = ("task", "roi_subset", *_BOOLS)


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
        else:
            options[key] = _boolean(key, value)
    return options


def _boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputError(f"form field {key}={value!r}: expected true or false")
