"""Which paths an MCP client may use: existing input files anywhere, outputs only under a root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from totalseg.errors import InputError


@dataclass(frozen=True)
class Workspace:
    """The folder an MCP server may write into (``totalseg mcp --root DIR``).

    Examples:
        >>> ws = Workspace(Path("/data"))
        >>> ws.output("/data/run1").as_posix()
        '/data/run1'
        >>> ws.output("/data/../etc")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: output path /etc is outside the allowed root /data; pass a path ...
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(os.path.abspath(Path(self.root).expanduser())))

    def input(self, path: str) -> Path:
        """An existing input image or DICOM folder/zip, as an absolute path."""
        resolved = Path(os.path.abspath(Path(path).expanduser()))
        if not resolved.exists():
            raise InputError(f"input path {resolved} does not exist; pass an existing image file or DICOM folder")
        return resolved

    def output(self, path: str) -> Path:
        """An output path (relative paths are taken from the root), refused outside the root."""
        given = Path(path).expanduser()
        resolved = Path(os.path.realpath(given if given.is_absolute() else self.root / given))
        root = Path(os.path.realpath(self.root))
        if resolved != root and root not in resolved.parents:
            raise InputError(f"output path {resolved} is outside the allowed root {root}; pass a path under it "
                             "or start the server with --root")
        return resolved
