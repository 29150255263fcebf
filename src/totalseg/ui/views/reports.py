"""Reports page: run a clinical report (spine, aorta, pulmonary, body composition) on the current case,
show its one-page HTML report inline and offer its JSON and HTML.

The report runs on the case's image through :func:`totalseg.reports.run_reports`; the case's labels
are handed over as ``<task>.nii.gz`` (a whole-task run, no ROI subset), so a report reuses the masks
of its tasks and segments only what it lacks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from totalseg.errors import InputError
from totalseg.reports.runner import REPORTS, run_reports
from totalseg.ui.case import Case
from totalseg.ui.config import AppConfig
from totalseg.ui.views import session

_HEIGHT_PX = 900


def render(config: AppConfig) -> None:
    """Draw the Reports page."""
    st.header("Reports")
    case = session.require_case(segmented=False)
    if case is None:
        return
    name = st.selectbox("Report", list(REPORTS), format_func=lambda n: REPORTS[n].title, key="report_name")
    st.caption("As `totalseg report NAME`. The masks of this case's segmentation are reused where the report "
               "needs its task; what is missing is segmented first (open models; licensed ones need a key).")
    patient = _patient_inputs() if name == "body_composition" else {}
    key = f"report:{name}:{sorted(patient.items())}"
    cache = st.session_state.setdefault(session.CACHE, {})
    if st.button("Run report", key="run_report"):
        with st.spinner(f"Running the {name} report ..."):
            cache[key] = case_report(case, name, config, session_folder=session.session_folder(), **patient)
    if key in cache:
        _show(name, cache[key])


def _patient_inputs() -> dict[str, Any]:
    cols = st.columns(3)
    height = cols[0].number_input("Height (m), for the muscle index", min_value=0.0, max_value=2.8, value=0.0,
                                  step=0.01, key="report_height")
    weight = cols[1].number_input("Weight (kg)", min_value=0.0, max_value=700.0, value=0.0, step=1.0,
                                  key="report_weight")
    sex = cols[2].selectbox("Sex", ["not given", "male", "female"], key="report_sex")
    patient = {"height_m": height or None, "weight_kg": weight or None, "sex": None if sex == "not given" else sex}
    return {k: v for k, v in patient.items() if v is not None}


def case_report(case: Case, name: str, config: AppConfig, *, session_folder: Path, **patient: Any) -> tuple:
    """Run one report on ``case``; returns ``(json, html)`` of the report, or ``(reason, None)``.

    Examples:
        >>> case_report(case, "body_composition", config, session_folder=folder, height_m=1.8)  # doctest: +SKIP
        ({'report': 'body_composition', 'status': 'measured', ...}, '<!DOCTYPE html>...')
    """
    if case.modality != "ct":
        raise InputError("the reports measure CTs; open a CT image")
    folder = Path(tempfile.mkdtemp(prefix="report-", dir=session_folder))
    seg_dir = None
    if case.labels is not None and case.choice is not None and not case.choice.roi_subset:
        from totalseg.io.writers import write_multilabel

        seg_dir = folder / "seg"
        write_multilabel(case.labels, seg_dir / f"{case.choice.task}.nii.gz", case.classes)
    device = case.choice.device if case.choice is not None else "cpu"
    result = run_reports(case.path, folder / "reports", [name], seg_dir=seg_dir, settings=config.settings,
                         device=device, download=config.download, **patient)[name]
    if isinstance(result, str):
        return result, None
    return result, (folder / "reports" / name / REPORTS[name].html_name).read_text(encoding="utf-8")


def _show(name: str, outcome: tuple) -> None:
    import json

    result, html = outcome
    if html is None:
        private = f"{session.session_folder()}/"  # the server's folder is not the user's business
        st.error(f"The {name} report could not be made: {result.replace(private, '')}", icon="⚠️")
        return
    spec = REPORTS[name]
    cols = st.columns(2)
    cols[0].download_button("Report JSON", json.dumps(result, indent=2).encode(), file_name=spec.json_name,
                            mime="application/json", key="report_json", on_click="ignore")
    cols[1].download_button("Report page (HTML)", html.encode(), file_name=spec.html_name, mime="text/html",
                            key="report_html", on_click="ignore")
    if hasattr(st, "iframe"):  # streamlit >= 1.52
        st.iframe(html, height=_HEIGHT_PX)
    else:
        import streamlit.components.v1 as components

        components.html(html, height=_HEIGHT_PX, scrolling=True)
