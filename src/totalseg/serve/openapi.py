"""The API's OpenAPI document, as published in ``docs/openapi.json``.

Regenerate it with ``python -m totalseg.serve.openapi docs/openapi.json``; a test checks it is current.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def openapi_text() -> str:
    """The OpenAPI document of :func:`totalseg.serve.app.create_app` as indented JSON text.

    Examples:
        >>> json.loads(openapi_text())["info"]["title"]  # doctest: +SKIP
        'totalseg'
    """
    from totalseg.serve.app import create_app
    from totalseg.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(home_dir=Path(tmp), weights_dir=Path(tmp)), tmp, token="x", start_workers=False)
        spec = app.openapi()
    spec["components"] = {**spec.get("components", {}), "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "the --token of totalseg serve"}}}
    spec["security"] = [{"bearer": []}]
    spec["info"]["x-generated-by"] = f"fastapi {_fastapi_version()}"
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def _fastapi_version() -> str:
    import fastapi

    return fastapi.__version__


if __name__ == "__main__":
    from totalseg.io.atomic import atomic_write_text

    atomic_write_text(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json", openapi_text())
