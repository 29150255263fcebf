"""Compare page: upload a reference segmentation of the same image, get Dice per structure."""

from __future__ import annotations

import streamlit as st

from totalseg.ui.case import Case
from totalseg.ui.charts import dice_chart
from totalseg.ui.compare import compare_labels, read_reference, voxel_counts
from totalseg.ui.config import AppConfig
from totalseg.ui.inputs import save_upload
from totalseg.ui.tables import dice_frame
from totalseg.ui.views import session


def render(config: AppConfig) -> None:
    """Draw the Compare page."""
    st.header("Compare with a reference")
    case = session.require_case(segmented=True)
    if case is None:
        return
    uploaded = st.file_uploader(
        "Reference segmentation of this image: a multilabel NIfTI (label names in the header, or the task's "
        "label ids) or NRRD/MHA with the task's ids", key="reference",
    )
    if uploaded is None:
        return
    frame = session.derived(f"dice:{uploaded.file_id}", lambda: _dice(case, uploaded))
    mean = frame["dice"].mean()
    st.metric("Mean Dice over the reference's structures", "n/a" if frame["dice"].isna().all() else f"{mean:.3f}")
    st.dataframe(frame, hide_index=True, width="stretch", key="dice_table", column_config={
        "dice": st.column_config.NumberColumn("Dice", format="%.3f"),
        "nsd": st.column_config.NumberColumn("NSD (3 mm)", format="%.3f", help="normalized surface Dice at 3 mm")})
    st.download_button("Download CSV", frame.to_csv(index=False).encode(), file_name="dice.csv", mime="text/csv",
                       key="download_dice")
    if frame["dice"].notna().any():
        st.plotly_chart(dice_chart(frame), key="dice_chart")


def _dice(case: Case, uploaded):
    path = save_upload(uploaded.name, uploaded, session.session_folder() / "reference")
    ref = read_reference(path, case.image, case.classes)
    pred = case.labels.array
    scores = compare_labels(pred, ref.array, case.classes, spacing_mm=case.image.spacing_mm)
    return dice_frame(scores, voxel_counts(pred, case.classes), voxel_counts(ref.array, case.classes))
