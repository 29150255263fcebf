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
    spec["paths"]["/health"]["get"]["security"] = []  # the one endpoint without a token
    _document_errors(spec)
    spec["info"]["x-generated-by"] = f"fastapi {_fastapi_version()}"
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


# The 4xx answers of the app, each ``{"detail": "<one line>"}``, by where they can happen.
_ERRORS = {
    400: "bad request: the one-line detail names the problem and the fix",
    401: "missing or wrong Bearer token",
    404: "no such job or result file",
    413: "upload over --max-upload-mb",
    422: "a parameter of the wrong form",
}


def _document_errors(spec: dict) -> None:
    """Add the error answers to every operation: 401 where a token is needed, 404 on a job's paths,
    400 and 413 for uploads; FastAPI's 422 body is replaced by the one-line form the app sends."""
    spec["components"].setdefault("schemas", {})["Error"] = {
        "type": "object", "required": ["detail"], "title": "Error",
        "properties": {"detail": {"type": "string", "title": "Detail"}}}
    for path, methods in spec["paths"].items():
        for op in methods.values():
            codes = {401} if op.get("security") != [] else set()
            codes |= {404} if "{job_id}" in path else set()
            codes |= {400, 413} if "requestBody" in op else set()
            codes |= {422} if "422" in op["responses"] else set()
            for code in sorted(codes):
                op["responses"][str(code)] = {"description": _ERRORS[code], "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        spec["components"]["schemas"].pop(unused, None)


def _fastapi_version() -> str:
    import fastapi

    return fastapi.__version__


if __name__ == "__main__":
    from totalseg.io.atomic import atomic_write_text

    atomic_write_text(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json", openapi_text())
