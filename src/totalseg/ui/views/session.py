"""What the pages share: the process-wide run queue, the session's case and folder, error display."""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from totalseg.errors import TotalsegError
from totalseg.serve.jobs import JobStore
from totalseg.ui import INSTALL_HINT
from totalseg.ui.case import Case
from totalseg.ui.jobs import DONE, FAILED, Job, JobRunner
from totalseg.ui.shared_jobs import open_store

log = logging.getLogger(__name__)

CASE, JOB, FOLDER, CACHE, OUTCOME = "case", "job", "folder", "derived", "outcome"


@st.cache_resource(show_spinner=False)
def runner(workers: int) -> JobRunner:
    """The process-wide run queue: one per server, shared by every browser session."""
    return JobRunner(workers=workers)


@st.cache_resource(show_spinner=False)
def job_store(data_dir: str) -> JobStore:
    """The process-wide handle on the job store shared with ``totalseg serve`` and ``totalseg dicom-node``
    (it holds the locks of the runs this process records)."""
    return open_store(Path(data_dir))


class _Folder:
    """A temporary folder removed when this object is (the session's state is dropped after the
    browser session ends) or at interpreter exit, whichever comes first."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="totalseg-ui-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def remove(self) -> None:
        """Delete the folder now."""
        self._finalizer()


def session_folder() -> Path:
    """A private folder for this session's uploads and exports (removed with the session's data)."""
    folder = st.session_state.get(FOLDER)
    if folder is None or not folder.path.is_dir():
        folder = _Folder()
        st.session_state[FOLDER] = folder
    return folder.path


def clear_uploads() -> None:
    """Remove the previous upload (one image per session is kept on disk)."""
    folder = st.session_state.pop(FOLDER, None)
    if folder is not None:
        folder.remove()


def current_case() -> Case | None:
    """The case this browser session works on, if any."""
    return st.session_state.get(CASE)


def set_case(case: Case | None) -> None:
    """Make ``case`` the session's case; results derived from the previous one are dropped."""
    st.session_state[CASE] = case
    st.session_state[CACHE] = {}


def collect_finished_run() -> None:
    """Take a finished run's case into the session, once (every script run, before anything is drawn).

    The finished job is kept under ``OUTCOME``: the Segment page says how it went until the next run.
    """
    job: Job | None = st.session_state.get(JOB)
    if job is None or job.state not in (DONE, FAILED):
        return
    st.session_state.pop(JOB)
    if job.state == DONE:
        set_case(job.result)
    st.session_state[OUTCOME] = job


def derived(name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per case (statistics, findings, meshes): recomputed after a new case or run."""
    cache = st.session_state.setdefault(CACHE, {})
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def require_case(*, segmented: bool) -> Case | None:
    """The session's case, or ``None`` after telling the user what to do first."""
    case = current_case()
    if case is None:
        st.info("No image yet: open the **Segment** page and upload or choose an image.")
        return None
    if segmented and case.labels is None:
        st.info("This page needs a segmentation: run one on the **Segment** page first.")
        return None
    return case


def show_error(exc: BaseException, *, folder: Path | None = None) -> None:
    """A friendly message for an error a user can fix (private folder paths are not shown)."""
    text = str(exc)
    if folder is not None:
        text = text.replace(f"{folder}/", "").replace(str(folder), "")
    if isinstance(exc, ImportError):
        text = f"{text}; {INSTALL_HINT}" if INSTALL_HINT not in text else text
    st.error(text, icon="⚠️")


def guarded(render: Callable[[], None]) -> None:
    """Run a page; user errors and missing optional packages become a message, the app keeps running.

    Anything else is a bug: it is logged with its traceback and named in one line in the page.
    Streamlit's own rerun/stop signals derive from ``BaseException`` and pass through.
    """
    try:
        render()
    except (TotalsegError, ImportError) as exc:
        show_error(exc, folder=_folder_path())
    except Exception as exc:
        log.exception("page failed")
        show_error(RuntimeError(f"unexpected error ({type(exc).__name__}: {exc}); please report it"),
                   folder=_folder_path())


def _folder_path() -> Path | None:
    folder = st.session_state.get(FOLDER)
    return None if folder is None else folder.path
