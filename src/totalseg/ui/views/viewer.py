"""Viewer page: axial, coronal and sagittal planes with overlays, a cursor probe and a 3-D view."""

from __future__ import annotations

import numpy as np
import streamlit as st

from totalseg.ui import INSTALL_HINT
from totalseg.ui.case import Case
from totalseg.ui.config import AppConfig
from totalseg.ui.mesh import mesh_figure
from totalseg.ui.render import (
    PLANES,
    WINDOWS,
    apply_window,
    auto_window,
    draw_crosshair,
    label_colors,
    overlay,
    pixel_spacing,
    pixel_to_voxel,
    plane_axis,
    plane_slice,
    scale_for_display,
    voxel_to_pixel,
)
from totalseg.ui.views import session

VIEW_WIDTH_PX = 340
SLIDER_KEYS = {"axial": "slice_axial", "coronal": "slice_coronal", "sagittal": "slice_sagittal"}


def render(config: AppConfig) -> None:
    """Draw the Viewer page."""
    st.header("Viewer")
    case = session.require_case(segmented=False)
    if case is None:
        return
    shape = case.canonical_image.shape
    for plane, key in SLIDER_KEYS.items():
        if key not in st.session_state or st.session_state[key] >= shape[plane_axis(plane)]:
            st.session_state[key] = shape[plane_axis(plane)] // 2
    level, width = _window_controls(case)
    visible, opacity = _overlay_controls(case)
    colors = label_colors(max(case.classes, default=0))
    cols = st.columns(3)
    for col, plane in zip(cols, PLANES):
        with col:
            _plane_view(case, plane, level, width, visible, opacity, colors)
    _probe(case)
    if case.labels is not None:
        _three_d(case, colors)


def cursor() -> tuple[int, int, int]:
    """The (X, Y, Z) voxel where the three planes cross."""
    s = st.session_state
    return s[SLIDER_KEYS["sagittal"]], s[SLIDER_KEYS["coronal"]], s[SLIDER_KEYS["axial"]]


def _window_controls(case: Case) -> tuple[float, float]:
    presets = list(WINDOWS) if case.modality == "ct" else []
    options = presets + ["Auto", "Manual"]
    cols = st.columns([2, 1, 1])
    choice = cols[0].segmented_control("Window", options, default=options[0], key="window")
    choice = choice or options[0]
    if choice in WINDOWS:
        return WINDOWS[choice]
    level, width = auto_window(case.canonical_image)
    if choice == "Manual":
        level = cols[1].number_input("Level", value=float(round(level)), step=10.0, key="level")
        width = cols[2].number_input("Width", value=float(round(width)), min_value=1.0, step=10.0, key="width")
    return level, width


def _overlay_controls(case: Case) -> tuple[list[int], float]:
    if case.labels is None:
        return [], 0.0
    present = case.present
    with st.expander(f"Overlays: {len(present)} structures", expanded=False):
        cols = st.columns([2, 1])
        query = cols[0].text_input("Search structures", key="search", placeholder="e.g. vertebrae, kidney")
        opacity = cols[1].slider("Opacity", 0.0, 1.0, 0.45, 0.05, key="opacity")
        matches = {i: n for i, n in present.items() if query.strip().lower() in n.lower()}
        if query and not matches:
            st.caption(f"No structure matches {query!r}.")
        shown = st.multiselect(
            "Shown structures (remove one to hide it)", list(matches), default=list(matches),
            format_func=present.get, key=f"shown:{query}",
        )
    return shown, opacity


def _plane_view(case: Case, plane: str, level: float, width: float, visible: list[int], opacity: float,
                colors: np.ndarray) -> None:
    shape = case.canonical_image.shape
    axis = plane_axis(plane)
    index = st.slider(plane.capitalize(), 0, shape[axis] - 1, key=SLIDER_KEYS[plane])
    grey = apply_window(plane_slice(case.canonical_image, plane, index), level, width)
    labels = None if case.canonical_labels is None else plane_slice(case.canonical_labels, plane, index)
    rgb = overlay(grey, labels, colors, visible, opacity)
    spacing = pixel_spacing(case.canonical_spacing_mm, plane)
    shown = scale_for_display(rgb, spacing, VIEW_WIDTH_PX)
    row, col = voxel_to_pixel(plane, cursor(), shape)
    shown = draw_crosshair(shown, int((row + 0.5) * shown.shape[0] / rgb.shape[0]),
                           int((col + 0.5) * shown.shape[1] / rgb.shape[1]))
    _clickable(shown, plane, index, rgb.shape[:2], shape)


def _clickable(image: np.ndarray, plane: str, index: int, slice_shape: tuple[int, int], shape) -> None:
    """Show the slice; a click moves the cursor there (the other two planes follow)."""
    try:
        from streamlit_image_coordinates import streamlit_image_coordinates
    except ImportError:
        st.image(image, caption=f"clicking needs streamlit-image-coordinates; {INSTALL_HINT}")
        return
    key = f"click_{plane}"

    def on_click() -> None:
        click = st.session_state.get(key)
        if not click:
            return
        row = int(click["y"] * slice_shape[0] / click.get("height", image.shape[0]))
        col = int(click["x"] * slice_shape[1] / click.get("width", image.shape[1]))
        row, col = min(max(row, 0), slice_shape[0] - 1), min(max(col, 0), slice_shape[1] - 1)
        x, y, z = pixel_to_voxel(plane, index, row, col, shape)
        st.session_state.update({SLIDER_KEYS["sagittal"]: x, SLIDER_KEYS["coronal"]: y, SLIDER_KEYS["axial"]: z})

    streamlit_image_coordinates(image, key=key, on_click=on_click, cursor="crosshair")


def _probe(case: Case) -> None:
    x, y, z = cursor()
    value = case.canonical_image[x, y, z]
    unit = "HU" if case.modality == "ct" else "(intensity)"
    name = "no segmentation yet"
    if case.canonical_labels is not None:
        label = int(case.canonical_labels[x, y, z])
        name = case.classes.get(label, f"label {label}") if label else "background"
    st.markdown(f"**Cursor** voxel ({x}, {y}, {z}) RAS: **{name}**, {float(value):.0f} {unit}. "
                "Click an image to move the cursor.")


def _three_d(case: Case, colors: np.ndarray) -> None:
    st.subheader("3-D view")
    present = case.present
    largest = sorted(case.voxel_counts, key=case.voxel_counts.get, reverse=True)[:3]
    chosen = st.multiselect("Structures", list(present), default=largest, format_func=present.get, key="mesh")
    if not st.toggle("Show the 3-D view", key="show_3d"):
        return
    if not chosen:
        st.caption("Choose at least one structure.")
        return
    with st.spinner("Building surfaces"):
        fig = session.derived(f"mesh:{sorted(chosen)}", lambda: mesh_figure(
            case.canonical_labels, case.canonical_spacing_mm, {i: present[i] for i in chosen}, colors))
    st.plotly_chart(fig, key="mesh_figure")
