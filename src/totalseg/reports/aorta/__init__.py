"""The aorta report (``totalseg report aorta``), as TotalSegmentator's ``totalseg_aorta_report``.

Modules: ``definitions`` (landmarks, sections, anchor masks), ``sources`` (mask folders and
segmentations), ``segmentation`` (our ``total`` run), ``inputs`` (the reference grid), ``centerline``,
``cuts`` (cross-sections), ``landmarks``, ``oblique`` (flattened cross-sections),
``measurements``, ``report`` (the flow and the JSON), ``pictures`` and ``html`` (the page),
``outputs`` (files), ``phantom`` (known-answer masks).
"""
