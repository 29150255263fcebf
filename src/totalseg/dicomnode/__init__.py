"""``totalseg dicom-node``: a DICOM SCP that receives CT/MR series by C-STORE, turns each complete
series into one job of the shared job store (:mod:`totalseg.serve.jobs`) and sends the DICOM-SEG (and
RTSTRUCT) back by C-STORE or STOW-RS.

Modules: :mod:`~totalseg.dicomnode.names` (safe file names from UIDs),
:mod:`~totalseg.dicomnode.inbox` (instances on disk grouped by series, quiet-period completion),
:mod:`~totalseg.dicomnode.scp` (the pynetdicom SCP), :mod:`~totalseg.dicomnode.delivery` (C-STORE and
STOW-RS senders), :mod:`~totalseg.dicomnode.node` (the loop tying them to the job store and workers).
"""
