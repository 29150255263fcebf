"""Atomic writes of the small report files (JSON, PNG): a reader never sees a partial file."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from totalseg.errors import OutputError


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise OutputError(f"{path}: cannot write ({reason}); check that the folder is writable and has space") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json(obj: Any, path: str | os.PathLike, *, indent: int = 4) -> Path:
    """Write ``obj`` as JSON the way ``json.dump(obj, f, indent=indent)`` does (no trailing newline)."""
    text = json.dumps(obj, indent=indent)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
