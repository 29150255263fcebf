"""Batch segmentation of cohorts: finding the cases (paths, folders, a CSV list), the output folder
with its staging area and done markers that make a run resumable, the per-worker case runner that
overlaps reading, inference and writing, the local (threads and worker processes) and Ray backends,
and the results table (one row per case with timings and per-structure statistics).
"""

from totalseg.batch.cases import Case, cases_from_csv, cases_from_paths
from totalseg.batch.run import BatchSummary, run_batch

__all__ = ["BatchSummary", "Case", "cases_from_csv", "cases_from_paths", "run_batch"]
