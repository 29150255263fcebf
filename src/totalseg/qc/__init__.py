"""Quality control of a segmentation: eight checks that flag the implausible (docs/qc.md)."""

from totalseg.qc.report import CHECK_NAMES, Check, QcReport, write_qc
from totalseg.qc.run import run_qc

__all__ = ["CHECK_NAMES", "Check", "QcReport", "run_qc", "write_qc"]
