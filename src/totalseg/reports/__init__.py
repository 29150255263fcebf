"""Clinical reports from a CT and its segmentation, as the official ``totalseg_*_report`` commands.

One subpackage per report (``spine``, ``aorta``, ``pulmonary``, ``body_composition``); each turns a
CT plus masks (computed, or given by the user) into a JSON for machines and an HTML page for people,
and says "not measurable, because ..." where a structure is missing or cut off.
"""

from totalseg.reports.runner import REPORTS, run_reports

__all__ = ["REPORTS", "run_reports"]
