"""Process-wide settings, read from the environment once by the entry points.

Library code never reads ``os.environ``: the CLI and :func:`totalseg.segment` build a frozen
:class:`Settings` and pass it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where weights live, following the official tool's folder conventions.

    Attributes:
        home_dir: ``$TOTALSEG_HOME_DIR``, else ``~/.totalsegmentator``.
        weights_dir: ``$TOTALSEG_WEIGHTS_PATH``, else ``<home_dir>/nnunet/results``.

    Examples:
        >>> s = Settings.from_env({"TOTALSEG_HOME_DIR": "/data/ts"})
        >>> str(s.weights_dir)
        '/data/ts/nnunet/results'
    """

    home_dir: Path
    weights_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("TOTALSEG_HOME_DIR") or Path.home() / ".totalsegmentator")
        weights = env.get("TOTALSEG_WEIGHTS_PATH")
        return cls(home_dir=home, weights_dir=Path(weights) if weights else home / "nnunet" / "results")


DATA_DIR_ENV = "TOTALSEG_DATA_DIR"


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The job store folder that ``totalseg serve``, ``totalseg dicom-node`` and the web app share
    unless given one: ``$TOTALSEG_DATA_DIR``, else ``<home_dir>/serve``.

    Examples:
        >>> str(default_data_dir({"TOTALSEG_HOME_DIR": "/data/ts"}))
        '/data/ts/serve'
        >>> str(default_data_dir({"TOTALSEG_DATA_DIR": "/srv/jobs"}))
        '/srv/jobs'
    """
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_DIR_ENV) or Settings.from_env(env).home_dir / "serve")
