"""Shared by every test folder and the doctests in ``src/totalseg``.

The docstring examples write their files with ``tempfile.mkdtemp()`` so that they read as a user
would type them; here those folders land in pytest's own temporary folder (removed after a few
runs), not in the system's, which the suite would otherwise fill with a few dozen folders a run.
That holds for pytest's doctests and for the ``test_docstring_examples*`` tests that run a module's
examples with ``doctest.testmod``. Other tests keep the system's folder (Ray's socket paths must
stay short).
"""

import tempfile

import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _doctest_tempdir(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if isinstance(request.node, DoctestItem) or request.node.name.startswith("test_docstring_examples"):
        monkeypatch.setattr(tempfile, "tempdir", str(request.getfixturevalue("tmp_path")))
