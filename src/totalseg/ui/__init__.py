"""The web app (``totalseg ui``): a Streamlit front end that segments an uploaded CT or MR, shows it
in a three-plane and 3-D viewer with structure overlays, lists measurements and clinical findings,
compares against a reference segmentation and exports masks, DICOM objects and a report. It is a
thin shell: every computation is a library call (``totalseg.segment``, ``totalseg.io``,
``totalseg.measure``); the modules here hold only presentation helpers (rendering slices, meshes,
tables, the report page) and the page layouts under ``views/`` (not ``pages/``, which Streamlit
would list as extra pages of the script beside it). Streamlit and the plotting libraries are
imported lazily; ``pip install 'totalseg[ui]'`` installs them.
"""

INSTALL_HINT = "the web app needs extra packages: pip install 'totalseg[ui]'"
