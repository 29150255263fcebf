"""Atomic file writes, the one mechanism every output goes through: write next to the target under
a temporary name, then rename it over the target.

A reader never sees a half-written file, and an interrupted or failed write leaves the previous file
(or none) and no temporary file behind. A failure to write becomes one :class:`OutputError` naming
the file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from totalseg.errors import OutputError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on failure removed.

    The temporary name ends with the target's name, so writers that pick a format by extension
    (savefig, np.save, SimpleITK, nibabel) still do.

    Examples:
        >>> with atomic_path(tmp_path / "a.txt") as tmp:  # doctest: +SKIP
        ...     tmp.write_text("done")
    """
    path = Path(path)
    tmp = path.with_name(f".{uuid.uuid4().hex[:12]}.tmp.{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc}); check that the folder is writable "
                          "and has space") from exc
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, parts: Iterable[bytes | memoryview]) -> Path:
    """Write the concatenation of ``parts`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp, open(tmp, "xb") as handle:
        for part in parts:
            handle.write(part)
    return Path(path)


def _discard(tmp: Path) -> None:
    """Remove a temporary file that may never have been created (a missing folder, a file in the way)."""
    try:
        tmp.unlink()
    except OSError:
        pass
