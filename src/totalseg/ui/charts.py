"""Plotly charts for the pages: organ volumes against reference ranges, Dice per structure."""

from __future__ import annotations

import pandas as pd

from totalseg.ui import INSTALL_HINT

_FLAG_COLORS = {"normal": "#4caf50", "low": "#ff9800", "high": "#f44336"}


def _go():
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise ImportError(f"charts need plotly; {INSTALL_HINT}") from exc
    return go


def volume_reference_chart(rows: pd.DataFrame):
    """Horizontal bars of organ volumes (mL) over grey bands of their reference ranges."""
    go = _go()
    fig = go.Figure()
    for i, row in enumerate(rows.itertuples()):
        low = 0.0 if row.low_ml is None or pd.isna(row.low_ml) else float(row.low_ml)
        fig.add_shape(type="rect", x0=low, x1=float(row.high_ml), y0=i - 0.4, y1=i + 0.4,
                      fillcolor="rgba(160,160,160,0.35)", line_width=0, layer="below")
    fig.add_trace(go.Bar(
        x=rows["value_ml"], y=list(range(len(rows))), orientation="h", width=0.4,
        marker_color=[_FLAG_COLORS.get(f, "#3fa7d6") for f in rows["flag"]],
        text=[f"{v:.0f} mL ({f})" for v, f in zip(rows["value_ml"], rows["flag"])], textposition="outside",
        hovertemplate="%{x:.0f} mL<extra></extra>", name="measured",
    ))
    fig.update_layout(
        yaxis={"tickvals": list(range(len(rows))), "ticktext": list(rows["organ"]), "autorange": "reversed"},
        xaxis_title="volume (mL); grey: reference range", height=120 + 50 * len(rows),
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
    )
    return fig


def dice_chart(frame: pd.DataFrame):
    """Bars of Dice per structure, worst first."""
    go = _go()
    ordered = frame.dropna(subset=["dice"]).sort_values("dice")
    fig = go.Figure(go.Bar(x=ordered["dice"], y=ordered["structure"], orientation="h",
                           marker_color="#3fa7d6", hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(xaxis={"range": [0, 1], "title": "Dice"}, height=120 + 18 * len(ordered),
                      margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig
