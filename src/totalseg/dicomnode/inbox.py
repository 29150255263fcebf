"""Received instances on disk, grouped by series: ``<data_dir>/dicom-node/incoming/<series>/`` holds
``<sop instance uid>.dcm`` files and ``.series.json`` (the study, series and sender). A series is
complete once no instance arrived for the quiet period; the folder's modification time is the last
arrival, so a restarted node goes on collecting and completes what was left."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from totalseg.dicomnode.names import safe_uid_name
from totalseg.io.atomic import atomic_write_bytes, atomic_write_text

SERIES_FILE = ".series.json"  # a dot file: the DICOM reader passes over it


@dataclass(frozen=True)
class Arrival:
    """One received instance: its identifiers and who sent it.

    Examples:
        >>> Arrival(study_uid="1.2", series_uid="1.2.3", sop_uid="1.2.3.4", modality="CT", calling_ae="PACS")
        Arrival(study_uid='1.2', series_uid='1.2.3', sop_uid='1.2.3.4', modality='CT', calling_ae='PACS')
    """

    study_uid: str
    series_uid: str
    sop_uid: str
    modality: str
    calling_ae: str


class Inbox:
    """Instances under ``root`` (``<data_dir>/dicom-node/incoming``), thread-safe within one process.

    Examples:
        >>> inbox = Inbox(tmp_path / "incoming")  # doctest: +SKIP
        >>> inbox.store(arrival, encoded_bytes)  # doctest: +SKIP
        >>> inbox.complete(quiet_s=10)  # doctest: +SKIP
        [PosixPath('.../incoming/1.2.3')]
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def store(self, arrival: Arrival, encoded: bytes) -> Path:
        """Write one instance (a DICOM file's bytes) atomically into its series folder; returns its path."""
        folder = self.root / safe_uid_name(arrival.series_uid)
        with self._lock:
            folder.mkdir(exist_ok=True)
            if not (folder / SERIES_FILE).exists():
                info = {"study_uid": arrival.study_uid, "series_uid": arrival.series_uid,
                        "modality": arrival.modality, "calling_ae": arrival.calling_ae, "first_arrival": time.time()}
                atomic_write_text(folder / SERIES_FILE, json.dumps(info, indent=2) + "\n")
            path = atomic_write_bytes(folder / f"{safe_uid_name(arrival.sop_uid)}.dcm", [encoded])
            os.utime(folder)  # a replaced file does not always touch the folder: its mtime is the last arrival
        return path

    def complete(self, *, quiet_s: float, now: float | None = None) -> list[Path]:
        """Series folders without a new instance for ``quiet_s`` seconds, oldest first."""
        now = time.time() if now is None else now
        with self._lock:
            folders = [p for p in self.root.iterdir() if p.is_dir() and (p / SERIES_FILE).exists()]
            done = [(p.stat().st_mtime, p) for p in folders if now - p.stat().st_mtime >= quiet_s]
        return [p for _, p in sorted(done)]

    def collecting(self) -> list[Path]:
        """Series folders still receiving (or waiting for their quiet period)."""
        return sorted(p for p in self.root.iterdir() if p.is_dir())

    def take(self, folder: Path, destination: Path) -> dict:
        """Move a complete series folder to ``destination`` (a job's input); returns its ``.series.json``.

        The lock makes an instance that arrives meanwhile start a new series folder instead of
        landing in the moved one.
        """
        with self._lock:
            info = json.loads((folder / SERIES_FILE).read_text(encoding="utf-8"))
            for part in folder.glob(".*.tmp.*"):  # a write cut short by a crash (io.atomic names)
                part.unlink()
            os.replace(folder, destination)
        return info

    def count(self, folder: Path) -> int:
        """Instances received in a series folder."""
        return sum(1 for p in folder.glob("*.dcm") if not p.name.startswith("."))
