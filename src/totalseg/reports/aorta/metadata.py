"""The aorta report's ``metadata`` block and the official refusals (patient age, image size): the
shared node-info rules of :mod:`totalseg.reports.nodeinfo` with this report's version.
"""

from __future__ import annotations

import os

from totalseg.reports.aorta.definitions import REPORT_VERSION
from totalseg.reports.nodeinfo import check_ct_shape
from totalseg.reports.nodeinfo import report_metadata as shared_metadata

__all__ = ["check_ct_shape", "report_metadata"]


def report_metadata(nodeinfo: str | os.PathLike | None = None) -> dict:
    """The JSON's ``metadata`` block, version ``REPORT_VERSION``.

    Raises:
        InputError: unreadable node-info, an age in weeks or outside 5-150 years.

    Examples:
        >>> report_metadata()["PatientAge"], report_metadata()["version"]
        (83, '0.1.2')
    """
    return shared_metadata(nodeinfo, version=REPORT_VERSION)
