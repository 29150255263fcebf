"""The output folder of a batch: ``OUTDIR/<case>/`` per finished case, and a hidden state folder
with the staging area, the done markers, the failure records, the options of the run and a lock.

A case is written into ``.totalseg-batch/staging/`` first, renamed to ``OUTDIR/<case>/`` when all
its outputs are there, and only then gets its done marker (written atomically). So a case folder
with a marker is complete, one without a marker is redone, and a crash leaves no half-written case
folder behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from totalseg.errors import InputError, OutputError
from totalseg.io.atomic import atomic_write_text

STATE_DIR = ".totalseg-batch"


class BatchFolder:
    """Paths and atomic state changes of one batch output folder.

    Examples:
        >>> import tempfile
        >>> folder = BatchFolder(Path(tempfile.mkdtemp()) / "out")
        >>> staged = folder.stage("p1")
        >>> _ = (staged / "liver.nii.gz").write_bytes(b"...")
        >>> folder.commit("p1", staged, {"case": "p1", "status": "ok"})
        >>> folder.is_done("p1"), sorted(p.name for p in folder.case_dir("p1").iterdir())
        (True, ['liver.nii.gz'])
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.state = self.root / STATE_DIR

    def case_dir(self, name: str) -> Path:
        return self.root / name

    def marker(self, name: str) -> Path:
        return self.state / "done" / f"{name}.json"

    def failure(self, name: str) -> Path:
        return self.state / "failed" / f"{name}.json"

    def is_done(self, name: str) -> bool:
        return self.marker(name).is_file() and self.case_dir(name).is_dir()

    def done_record(self, name: str) -> dict[str, Any] | None:
        """The result row stored with the done marker, or None if the case is not finished."""
        return _read_json(self.marker(name)) if self.is_done(name) else None

    def failure_record(self, name: str) -> dict[str, Any] | None:
        return _read_json(self.failure(name))

    def stage(self, name: str) -> Path:
        """A fresh, empty staging folder for one attempt at ``name``."""
        path = self.state / "staging" / f"{name}.{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create ({exc.strerror}); check that the output folder is writable"
                              ) from None
        return path

    def commit(self, name: str, staged: Path, record: Mapping[str, Any]) -> None:
        """Move a complete staging folder to ``OUTDIR/<name>/``, then write its done marker."""
        target = self.case_dir(name)
        self.marker(name).unlink(missing_ok=True)
        if target.exists():  # an unfinished folder from an interrupted attempt, or a redo
            doomed = self.state / "trash" / f"{name}.{uuid.uuid4().hex[:12]}"
            doomed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        os.replace(staged, target)
        write_json_atomic(self.marker(name), record)
        self.failure(name).unlink(missing_ok=True)

    def record_failure(self, name: str, record: Mapping[str, Any]) -> None:
        write_json_atomic(self.failure(name), record)

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def open(self, options: Mapping[str, Any]) -> _Lock:
        """Take the folder for this run: lock it against a second run, check that a resumed run uses
        the same segment options, and clear what an interrupted run left in staging."""
        try:
            self.state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.root}: cannot create ({exc.strerror}); choose another output folder") from None
        lock = _Lock(self.state / "lock")
        try:
            self._check_options(options)
        except BaseException:
            lock.release()
            raise
        self.clear_leftovers()
        return lock

    def clear_leftovers(self) -> None:
        """Remove staging folders of abandoned attempts (only while no case is in flight)."""
        for leftover in ("staging", "trash"):
            shutil.rmtree(self.state / leftover, ignore_errors=True)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        path = self.state / "options.json"
        # one-item lists and plain values mean the same to segment() (output_type="nifti" or ["nifti"])
        wanted = {k: v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v for k, v in options.items()}
        wanted = json.loads(json.dumps(wanted, default=str))
        stored = _read_json(path)
        if stored is None:
            write_json_atomic(path, wanted)
            return
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        if changed:
            shown = ", ".join(f"{k}: {stored.get(k)!r} -> {wanted.get(k)!r}" for k in changed[:4])
            raise InputError(f"{self.root} holds a batch run with other segment options ({shown}); "
                             "resume with the same options or choose another output folder")


class _Lock:
    """An exclusive ``flock`` on a file; the OS releases it if the process dies."""

    def __init__(self, path: Path):
        self._file = open(path, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise OutputError(f"another totalseg batch is writing to {path.parent.parent}; "
                              "wait for it to finish or choose another output folder") from None

    def release(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()

    def __enter__(self) -> _Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=1, default=str))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
