"""What the batch tests share: small CT phantoms, one file per case, and a worker hook that makes a
poison case kill its worker process, installed through Python's site hook in processes started later."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

# Installed in every worker process through Python's site hook (a sitecustomize module on PYTHONPATH,
# which the spawned workers inherit): segment() logs "<pid> <input name>" when a case starts, and a
# poison input makes it SIGKILL its own process (as the OOM killer would) as soon as another case has
# started in that process too, or after a second when none does (when it runs alone).
WORKER_HOOK = """
    import os
    import signal
    import time
    from pathlib import Path

    import totalseg.api

    _segment = totalseg.api.segment
    _LOG = Path(os.environ["TOTALSEG_TEST_CASE_LOG"])


    def _others_started() -> bool:
        me = str(os.getpid())
        return any(pid == me and name != "poison.nii.gz" for pid, name in map(str.split, _LOG.read_text().splitlines()))


    def segment(input, *args, **kwargs):
        with open(_LOG, "a") as log:
            log.write(f"{os.getpid()} {Path(input).name}\\n")
        if Path(input).name == "poison.nii.gz":
            deadline = time.monotonic() + 1.0
            while not _others_started() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        return _segment(input, *args, **kwargs)


    totalseg.api.segment = segment
"""


@pytest.fixture(scope="module")
def worker_hook(tmp_path_factory):
    """A function that installs the hook for processes started from then on, through ``env`` (a
    ``pytest.MonkeyPatch``), and returns the log of case starts."""
    return lambda env: _install_worker_hook(tmp_path_factory.mktemp("hook"), env)


def _install_worker_hook(folder: Path, env: pytest.MonkeyPatch) -> Path:
    hooks = folder / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(WORKER_HOOK))
    log = folder / "cases.log"
    log.touch()
    env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")])))
    env.setenv("TOTALSEG_TEST_CASE_LOG", str(log))
    return log


@pytest.fixture(scope="module")
def scans(tmp_path_factory, make_phantom):
    """c0.nii.gz ... c7.nii.gz (three small CT phantoms, one file per case, so the hook's log names
    cases) and a valid copy of c0 named poison (it only kills through the hook)."""
    folder = tmp_path_factory.mktemp("scans")
    for i in range(8):
        img = nib.Nifti1Image(make_phantom((40, 36, 24), seed=i % 3), np.diag([3.0, 3.0, 3.0, 1.0]))
        nib.save(img, folder / f"c{i}.nii.gz")
    (folder / "poison.nii.gz").write_bytes((folder / "c0.nii.gz").read_bytes())
    return folder
