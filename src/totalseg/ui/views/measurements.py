"""Measurements page: per-structure volume and intensity, clinical findings, organ volumes vs reference."""

from __future__ import annotations

import streamlit as st

from totalseg.ui.case import Case
from totalseg.ui.charts import volume_reference_chart
from totalseg.ui.config import AppConfig
from totalseg.ui.tables import findings_frame, statistics_frame, volume_reference_rows
from totalseg.ui.views import session


def statistics(case: Case, *, include_incomplete: bool = False) -> dict:
    """``statistics.json`` content of the case (computed once per case and option)."""
    from totalseg.measure.statistics import compute_statistics

    return session.derived(f"statistics:{include_incomplete}", lambda: compute_statistics(
        case.image, case.labels, case.classes, include_incomplete=include_incomplete))


def clinical(case: Case) -> dict:
    """``clinical.json`` content of the case (computed once per case)."""
    from totalseg.measure.clinical import clinical_measurements

    return session.derived("clinical", lambda: clinical_measurements(
        case.image, case.labels, case.classes, modality=case.modality))


def render(config: AppConfig) -> None:
    """Draw the Measurements page."""
    st.header("Measurements")
    case = session.require_case(segmented=True)
    if case is None:
        return
    _structures(case)
    _findings(case)


def _structures(case: Case) -> None:
    st.subheader("Structures")
    unit = "mean HU" if case.modality == "ct" else "mean intensity"
    include = st.checkbox("Include structures touching the image border (possibly cut off; the official "
                          "statistics report them as 0)", key="include_incomplete")
    frame = statistics_frame(statistics(case, include_incomplete=include))
    st.dataframe(frame, hide_index=True, width="stretch", key="statistics_table", column_config={
        "structure": "structure",
        "volume_ml": st.column_config.NumberColumn("volume (mL)", format="%.1f"),
        "mean_hu": st.column_config.NumberColumn(unit, format="%.1f"),
    })
    st.caption(f"{len(frame)} structures. Click a column header to sort.")
    st.download_button("Download CSV", frame.to_csv(index=False).encode(), file_name="statistics.csv",
                       mime="text/csv", key="download_csv")


def _findings(case: Case) -> None:
    st.subheader("Clinical findings")
    result = clinical(case)
    phase = result.get("contrast_phase", {})
    if phase.get("phase"):
        st.caption(f"Contrast phase: **{phase['phase']}**")
    findings = findings_frame(result)
    st.dataframe(findings, hide_index=True, width="stretch", key="findings_table")
    st.caption(result.get("disclaimer", ""))
    st.subheader("Organ volumes against reference ranges")
    rows = volume_reference_rows(result)
    if rows.empty:
        st.info("None of the organs with a reference range (liver, spleen, kidneys) is fully in the image.")
    else:
        st.plotly_chart(volume_reference_chart(rows), key="volume_chart")
