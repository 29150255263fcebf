"""``totalseg serve``: an HTTP API with a persistent job store and worker threads keeping models loaded.

:mod:`.jobs` holds the on-disk store, :mod:`.uploads` checks what clients send, :mod:`.options` turns
form fields into :func:`totalseg.api.segment` options, :mod:`.worker` runs queued jobs and
:mod:`.app` builds the FastAPI application (needs ``pip install 'totalseg[serve]'``).
"""
