"""The app's frame: page setup, the page list in the sidebar, and the error boundary around each page."""

from __future__ import annotations

from importlib import import_module

import streamlit as st

from totalseg import __version__
from totalseg.ui.config import AppConfig
from totalseg.ui.views import session

PAGES = {
    "Segment": "segment",
    "Viewer": "viewer",
    "Measurements": "measurements",
    "Reports": "reports",
    "Compare": "compare",
    "Export": "export",
    "Jobs": "jobs",
}


def run_app(config: AppConfig) -> None:
    """Draw the page the user picked in the sidebar (one script run)."""
    st.set_page_config(page_title="totalseg", page_icon="🩻", layout="wide")
    session.collect_finished_run()
    with st.sidebar:
        st.title("totalseg")
        page = st.radio("Page", list(PAGES), key="page")
        case = session.current_case()
        if case is not None:
            state = f"{len(case.present)} structures" if case.labels is not None else "not segmented yet"
            st.caption(f"Image: **{case.name}** ({state})")
        st.caption(f"totalseg {__version__}: TotalSegmentator models; not for diagnostic use.")
    module = import_module(f"totalseg.ui.views.{PAGES[page]}")
    session.guarded(lambda: module.render(config))
