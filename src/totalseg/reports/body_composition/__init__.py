"""Body composition on the L3 mid-slice from open models: skeletal muscle, visceral and subcutaneous fat.

``protocol`` holds the published numbers (HU windows, sarcopenia cut-offs, the classes), ``masks``
gathers the masks (given or segmented), ``areas`` picks the slice and measures it, ``figure`` draws
it and ``report`` writes ``body_composition.json`` and ``body_composition.html``.
"""

from totalseg.reports.body_composition.report import body_composition

__all__ = ["body_composition"]
