"""``totalseg report NAME``: the clinical reports (spine, aorta, pulmonary, body composition).

Each report has its own module ``totalseg.cli.report_<name>`` with ``register(subparsers)``; adding a
report is a row in :data:`REPORTS`.
"""

from __future__ import annotations

from importlib import import_module

# report name on the command line -> the module that registers it
REPORTS: dict[str, str] = {
    "aorta": "totalseg.cli.report_aorta",
    "pulmonary": "totalseg.cli.report_pulmonary",
    "spine": "totalseg.cli.report_spine",
    "body_composition": "totalseg.cli.report_body_composition",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="clinical reports: " + (", ".join(REPORTS) or "none yet"),
        description="Clinical reports from a CT and its segmentation (JSON for machines, HTML for people), "
                    "as the official totalseg_*_report commands.",
    )
    reports = p.add_subparsers(dest="report", metavar="REPORT", required=True)
    for module in REPORTS.values():
        import_module(module).register(reports)
