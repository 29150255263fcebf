"""The report files' JSON format, written atomically (``io.atomic``): a reader never sees a partial file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from totalseg.io.atomic import atomic_write_text


def write_json(obj: Any, path: str | os.PathLike, *, indent: int = 4) -> Path:
    """Write ``obj`` as JSON the way ``json.dump(obj, f, indent=indent)`` does (no trailing newline)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent))
