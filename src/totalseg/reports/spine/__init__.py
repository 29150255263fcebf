"""The spine report (``totalseg report spine``), as TotalSegmentator's ``totalseg_spine_report``.

Modules: ``heights`` (lines through one sagittal slice), ``vertebrae`` (per-vertebra measurements),
``results`` (the JSON blocks and the Genant grade), ``inputs`` (the intermediate files, computed when
missing), ``overlay`` (the pictures and the RGB NIfTI), ``page`` (the HTML page), ``report`` (the flow).
"""
