"""Surface meshes of structures for the 3-D view: marching cubes (scikit-image) drawn with plotly."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from totalseg.ui import INSTALL_HINT

MAX_VOXELS = 2_000_000
"""Masks are subsampled until their bounding box holds at most this many voxels (a responsive view)."""


def structure_mesh(mask: np.ndarray, spacing_mm: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (mm, (N, 3) float32) and triangles ((M, 3) int) of a binary (X, Y, Z) mask's surface.

    Examples:
        >>> m = np.zeros((6, 6, 6), bool); m[2:4, 2:4, 2:4] = True
        >>> verts, faces = structure_mesh(m, (1.0, 1.0, 1.0))
        >>> bool(verts.min() >= 1.0 and verts.max() <= 4.0), len(faces) > 0
        (True, True)
    """
    try:
        from skimage.measure import marching_cubes
    except ImportError as exc:
        raise ImportError(f"the 3-D view needs scikit-image; {INSTALL_HINT}") from exc
    coords = np.argwhere(mask)
    if len(coords) == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), int)
    low, high = coords.min(0), coords.max(0) + 1
    step = 1
    while np.prod(np.ceil((high - low) / step)) > MAX_VOXELS:
        step += 1
    box = mask[low[0]:high[0]:step, low[1]:high[1]:step, low[2]:high[2]:step]
    padded = np.pad(box, 1).astype(np.float32)
    spacing = tuple(float(s) * step for s in spacing_mm)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=spacing)
    verts += (low * np.asarray(spacing_mm)) - np.asarray(spacing)  # undo the crop and the padding
    return verts.astype(np.float32), faces


def mesh_figure(labels_xyz: np.ndarray, spacing_mm: tuple[float, float, float], structures: Mapping[int, str],
                colors: np.ndarray):
    """A plotly figure with one shaded surface per structure (label id -> name)."""
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise ImportError(f"the 3-D view needs plotly; {INSTALL_HINT}") from exc
    fig = go.Figure()
    for label_id, name in structures.items():
        verts, faces = structure_mesh(labels_xyz == label_id, spacing_mm)
        if len(faces) == 0:
            continue
        r, g, b = (int(c) for c in colors[label_id])
        fig.add_trace(go.Mesh3d(
            x=verts[:, 0], y=verts[:, 1], z=verts[:, 2], i=faces[:, 0], j=faces[:, 1], k=faces[:, 2],
            color=f"rgb({r},{g},{b})", name=name, showlegend=True, flatshading=False,
            lighting={"ambient": 0.5, "diffuse": 0.8, "specular": 0.2}, hovertemplate=f"{name}<extra></extra>",
        ))
    fig.update_layout(
        scene={"aspectmode": "data", "xaxis_title": "R-L (mm)", "yaxis_title": "P-A (mm)", "zaxis_title": "I-S (mm)"},
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=520, legend={"itemsizing": "constant"},
    )
    return fig
