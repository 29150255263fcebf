"""End to end in headless Chromium: ``totalseg ui`` serves the app, a browser uploads the real CT, runs it
on tiny seeded weights, sees the viewer (a click moves the cursor) and the measurements table, and
downloads the multilabel NIfTI from the Export page.

Screenshots go to ``$TOTALSEG_UI_SCREENSHOTS`` when set (``docs/img`` regenerates the README's images),
else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from totalseg.io import load_label_map

pytest.importorskip("streamlit")
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs chromium (apt-get install chromium)")
TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"totalseg ui exited with {server.returncode}: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@pytest.fixture
def server(tiny_weights, tmp_path):
    """``totalseg ui`` on a free port of 127.0.0.1 with the tiny weights; stopped after the test."""
    port = _free_port()
    script = Path(sys.executable).with_name("totalseg")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from totalseg.cli import main; "
                                                 "sys.exit(main(sys.argv[1:]))"]
    env = dict(os.environ, TOTALSEG_WEIGHTS_PATH=str(tiny_weights), TOTALSEG_HOME_DIR=str(tmp_path / "home"))
    proc = subprocess.Popen(cmd + ["ui", "--host", "127.0.0.1", "--port", str(port), "--no-download"], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cursor_text(page) -> str:
    return page.get_by_text(re.compile(r"voxel \(\d+, \d+, \d+\) RAS")).inner_text()


def test_upload_run_view_and_measure_in_chromium(server, ct_small_path, tmp_path):
    shots = Path(os.environ.get("TOTALSEG_UI_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server)
            page.get_by_text("CT or MR image").wait_for()
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # only our own pages

            page.locator('input[type="file"]').first.set_input_files(str(ct_small_path))
            page.get_by_text("122 x 101 x 30 voxels").wait_for()
            page.get_by_text("fastest", exact=True).click()
            page.get_by_role("button", name="Run segmentation").click()
            page.get_by_text("Done in").wait_for()
            sidebar = page.locator('[data-testid="stSidebar"]')
            assert re.search(r"\(\d+ structures\)", sidebar.inner_text())
            page.screenshot(path=shots / "app_segment.png")

            sidebar.get_by_text("Viewer", exact=True).click()
            page.get_by_text("Cursor").wait_for()
            frames = page.locator('iframe[title*="image_coordinates"]')
            frames.nth(2).wait_for()
            assert frames.count() == 3  # axial, coronal, sagittal
            before = _cursor_text(page)
            axial = frames.nth(0).content_frame.locator("img")
            box = axial.bounding_box()
            assert box["width"] > 100 and box["height"] > 100  # the slice was drawn
            axial.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.6})
            page.wait_for_function("t => !document.body.innerText.includes(t)", arg=before)
            after = _cursor_text(page)
            assert re.search(r"RAS: .+, -?\d+ HU", after) and after.split("RAS")[0] != before.split("RAS")[0]
            page.screenshot(path=shots / "app_viewer.png")

            sidebar.get_by_text("Measurements", exact=True).click()
            page.get_by_text("Include structures touching").click()
            page.get_by_text(re.compile(r"^[1-9]\d* structures\. Click a column header")).wait_for()
            tables = page.locator('[data-testid="stDataFrame"]')
            tables.nth(1).wait_for()
            assert tables.count() == 2  # structures and findings
            page.screenshot(path=shots / "app_measurements.png")

            sidebar.get_by_text("Export", exact=True).click()
            with page.expect_download() as download:  # the file is written when the button is clicked
                page.get_by_role("button", name="Multilabel NIfTI").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            img = nib.load(saved)
            assert saved.name == "ct_small_3mm_segmentation.nii.gz" and img.shape == (122, 101, 30)
            assert img.get_data_dtype() == np.uint8 and load_label_map(img)[5] == "liver"
        finally:
            browser.close()
