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
    _quality(case)
    _structures(case)
    _findings(case)
    _phase_and_modality(case, config)


_BADGE = {"ok": ":green[ok]", "warn": ":orange[warn]", "fail": ":red[fail]"}


def quality(case: Case) -> dict:
    """``qc.json`` content of the case (computed once per case)."""
    from totalseg.qc import run_qc

    return session.derived("qc", lambda: run_qc(case.image, case.labels, case.classes,
                                                modality=case.modality).to_dict())


def _quality(case: Case) -> None:
    report = quality(case)
    st.subheader(f"Quality control: {_BADGE[report['status']]}")
    flagged = [c for c in report["checks"] if c["status"] != "ok"]
    for check in flagged:
        st.markdown(f"- **{check['name']}** {_BADGE[check['status']]}: {check['message']}")
    if not flagged:
        st.caption("All eight checks passed (laterality, vertebra order, field of view, fragments, volumes, "
                   "intensities, expected structures, input).")
    with st.expander("All checks and their evidence"):
        st.json(report, expanded=False)


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


def _phase_and_modality(case: Case, config: AppConfig) -> None:
    """The official contrast-phase regressors and modality classifiers, on demand (they may download)."""
    from totalseg.errors import TotalsegError

    st.subheader("Contrast phase and modality")
    st.caption("TotalSegmentator's own classifiers, as `totalseg phase` and `totalseg modality`: the phase from "
               "the median intensities of 20 structures of `total` (CT), the modality from the image's intensities.")
    result = st.session_state.get(session.CACHE, {}).get("phase_and_modality")
    if result is None and not st.button("Predict contrast phase and modality", key="predict_phase"):
        return
    if result is None:
        try:
            with st.spinner("Predicting ..."):
                result = session.derived("phase_and_modality", lambda: phase_and_modality(case, config))
        except TotalsegError as exc:
            st.error(str(exc))
            return
    st.dataframe(result, hide_index=True, key="phase_table")


def phase_and_modality(case: Case, config: AppConfig) -> list[dict]:
    """Rows ``measure``, ``value``, ``probability`` (and the post-injection time): the case's modality
    and, for a CT segmented with ``total``, its contrast phase."""
    from totalseg.measure.modality import modality_of_image
    from totalseg.measure.phase import phase_of_segmentation

    run = {"settings": config.settings, "download": config.download}
    modality = modality_of_image(case.image, **run)
    rows = [{"measure": "modality", "value": modality["modality"], "probability": modality["probability"]}]
    if case.choice is not None and case.choice.task == "total" and modality["modality"] == "ct":
        phase = phase_of_segmentation(case.image, case.labels, device=case.choice.device, **run)
        rows.append({"measure": "contrast phase", "value": phase["phase"], "probability": phase["probability"]})
        rows.append({"measure": "post-injection time (s)", "value": f"{phase['pi_time']:.1f} "
                     f"({phase['pi_time_min']:.1f}-{phase['pi_time_max']:.1f})", "probability": None})
    else:
        rows.append({"measure": "contrast phase", "value": "not predicted: it needs a CT segmented with the "
                     "task total", "probability": None})
    return rows
