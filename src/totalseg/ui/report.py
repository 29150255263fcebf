"""The one-page HTML report: key images with overlays, clinical findings and structure volumes.

The page is self-contained (images inline as PNG data URIs) so it can be mailed or printed to PDF.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from totalseg import __version__
from totalseg.ui.case import Case
from totalseg.ui.render import (
    PLANES,
    WINDOWS,
    apply_window,
    auto_window,
    label_colors,
    overlay,
    pixel_spacing,
    plane_slice,
    scale_for_display,
)
from totalseg.ui.tables import findings_frame, statistics_frame

KEY_IMAGE_WIDTH_PX = 300
MAX_VOLUME_ROWS = 40

_STYLE = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #ccc}
.meta{color:#555;font-size:13px}.images{display:flex;gap:8px}.images figure{margin:0;text-align:center;font-size:12px}
table{border-collapse:collapse;font-size:12px;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}
.high,.low{color:#b71c1c;font-weight:600}.normal{color:#1b5e20}.note{font-size:11px;color:#666;margin-top:14px}"""


def key_images(case: Case) -> dict[str, bytes]:
    """PNG bytes of the three planes through the centre of the segmentation, with overlays."""
    from PIL import Image

    image, labels = case.canonical_image, case.canonical_labels
    centre = np.argwhere(labels > 0).mean(0).astype(int) if labels is not None and labels.any() else \
        np.array(image.shape) // 2
    level, width = WINDOWS["Soft tissue"] if case.modality == "ct" else auto_window(image)
    colors = label_colors(max(case.classes, default=0))
    pngs = {}
    for plane, axis in zip(PLANES, (2, 1, 0)):
        index = int(centre[axis])
        grey = apply_window(plane_slice(image, plane, index), level, width)
        seg = None if labels is None else plane_slice(labels, plane, index)
        rgb = overlay(grey, seg, colors, list(case.classes), 0.4)
        shown = scale_for_display(rgb, pixel_spacing(case.canonical_spacing_mm, plane), KEY_IMAGE_WIDTH_PX)
        buffer = io.BytesIO()
        Image.fromarray(shown).save(buffer, format="PNG")
        pngs[plane] = buffer.getvalue()
    return pngs


def build_report(case: Case, stats: Mapping[str, Any], clinical: Mapping[str, Any]) -> str:
    """The report as one HTML document (UTF-8 text)."""
    e = html.escape
    choice = case.choice
    run = f"{choice.task}, {choice.mode} mode, {case.seconds:.1f} s" if choice else "not segmented"
    shape = " x ".join(map(str, case.image.shape))
    spacing = " x ".join(f"{s:.2f}" for s in case.image.spacing_mm)
    figures = "".join(
        f'<figure><img alt="{p}" src="data:image/png;base64,{base64.b64encode(png).decode()}"><figcaption>{p}'
        "</figcaption></figure>" for p, png in key_images(case).items())
    phase = clinical.get("contrast_phase", {}).get("phase", "")
    findings = "".join(
        f"<tr><td>{e(str(r.measurement))}</td><td>{'' if pd.isna(r.value) else e(str(r.value))} {e(str(r.unit))}</td>"
        f'<td class="{e(str(r.flag))}">{e(str(r.flag))}</td><td>{e(str(r.finding))}</td></tr>'
        for r in findings_frame(clinical).itertuples())
    volumes = statistics_frame(stats).sort_values("volume_ml", ascending=False).head(MAX_VOLUME_ROWS)
    unit = "mean HU" if case.modality == "ct" else "mean intensity"
    rows = "".join(f"<tr><td>{e(r.structure)}</td><td>{r.volume_ml:.1f}</td><td>{r.mean_hu:.1f}</td></tr>"
                   for r in volumes.itertuples())
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>totalseg report: {e(case.name)}</title>
<style>{_STYLE}</style></head><body>
<h1>Segmentation report</h1>
<div class="meta">{e(case.name)}: {shape} voxels of {spacing} mm &middot; {e(run)} &middot;
{len(case.present)} structures found &middot; {when} &middot; totalseg {__version__}</div>
<h2>Key images</h2><div class="images">{figures}</div>
<h2>Clinical findings{f" (contrast phase: {e(phase)})" if phase else ""}</h2>
<table><tr><th>measurement</th><th>value</th><th>flag</th><th>finding</th></tr>{findings}</table>
<h2>Structure volumes (largest {len(volumes)})</h2>
<table><tr><th>structure</th><th>volume (mL)</th><th>{unit}</th></tr>{rows}</table>
<p class="note">{e(str(clinical.get("disclaimer", "")))} Structures touching the image border are not measured.</p>
</body></html>
"""
