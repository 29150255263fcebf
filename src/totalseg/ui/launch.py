"""Start the Streamlit server for the app (what ``totalseg ui`` runs)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from totalseg.ui import INSTALL_HINT

APP_SCRIPT = Path(__file__).with_name("app.py")
MAX_UPLOAD_MB = 4096
"""Upload limit; the same value is in the app's own ``.streamlit/config.toml``."""


def streamlit_command(*, host: str = "127.0.0.1", port: int = 8501, data_dir: Path | None = None,
                      download: bool = True, workers: int = 1, job_store: Path | None = None) -> list[str]:
    """The command line that serves the app.

    Examples:
        >>> cmd = streamlit_command(port=9000)
        >>> cmd[cmd.index("--server.port") + 1], cmd[cmd.index("--server.maxUploadSize") + 1]
        ('9000', '4096')
    """
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--",
    ]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    if not download:
        cmd.append("--no-download")
    if job_store is not None:
        cmd += ["--job-store", str(job_store)]
    return cmd + ["--workers", str(workers)]


def check_installed() -> None:
    """Raise ImportError with the install command when the app's packages are missing."""
    missing = [name for name in ("streamlit", "plotly", "pandas", "skimage", "streamlit_image_coordinates")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} not installed; {INSTALL_HINT}")


def serve(**options) -> int:
    """Run the server in the foreground until it is stopped (Ctrl+C); returns its exit code.

    On POSIX the process becomes the server (``exec``), so a service manager's stop signal reaches
    Streamlit itself rather than a parent that would leave it running.
    """
    check_installed()
    cmd = streamlit_command(**options)
    if os.name == "posix":
        sys.stderr.flush()
        os.execv(cmd[0], cmd)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
