"""What the app is configured with: the server-side data folder, the job store, weights settings, downloads."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from totalseg.settings import Settings, default_data_dir

DATA_DIR_ENV = "TOTALSEG_UI_DATA_DIR"


@dataclass(frozen=True)
class AppConfig:
    """Options fixed when the server starts.

    Attributes:
        settings: where model weights live.
        data_dir: a server folder whose images users may open without uploading; ``None`` hides it.
        download: fetch missing official weights on first use (otherwise a run fails with a hint).
        workers: segmentation runs executed at the same time; later runs wait in a queue.
        job_store: the data folder of the job store shared with ``totalseg serve`` and ``totalseg
            dicom-node`` (their ``--data-dir``): the Jobs page lists its jobs and the app records its
            own runs there; ``None``: no Jobs page records.

    Examples:
        >>> cfg = AppConfig.from_args(["--data-dir", "/data/ct", "--no-download"], {})
        >>> str(cfg.data_dir), cfg.download
        ('/data/ct', False)
    """

    settings: Settings
    data_dir: Path | None = None
    download: bool = True
    workers: int = 1
    job_store: Path | None = None

    @classmethod
    def from_args(cls, argv: Sequence[str], environ: Mapping[str, str]) -> AppConfig:
        """Parse the arguments ``totalseg ui`` hands the app script (unknown ones are ignored)."""
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--data-dir")
        parser.add_argument("--no-download", action="store_true")
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--job-store")
        args, _ = parser.parse_known_args(list(argv))
        data_dir = args.data_dir or environ.get(DATA_DIR_ENV) or None
        return cls(
            settings=Settings.from_env(environ),
            data_dir=Path(data_dir) if data_dir else None,
            download=not args.no_download,
            workers=max(1, args.workers),
            job_store=Path(args.job_store) if args.job_store else default_data_dir(environ),
        )
