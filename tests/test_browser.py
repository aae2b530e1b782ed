"""The explorer app in a real browser: Voilà serves notebooks/explorer_app.ipynb (notebook 07's
explorer alone), Chromium moves a slider and presses Run.

Uses Debian's chromium (/usr/bin/chromium) through the `playwright` package, never a browser
that playwright would download. Skipped, with the reason, where chromium is missing, except
in CI (CI=true), where .ci/run installs it and the test must run.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "explorer_app.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_TIMEOUT_S = 120   # Voilà answering HTTP
PAGE_TIMEOUT_S = 300     # the notebook executed in the page (kernel start, TensorFlow, the explorer built)
RUN_TIMEOUT_S = 240      # one tiny run after the click

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser "
                "test (CI installs it and always runs this test)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"Voilà exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"Voilà did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def voila(weights_path, tmp_path):
    """Voilà serving the explorer app in fast mode on a free loopback port; killed (with its kernel) afterwards."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: .ci/run must `apt-get install -y chromium`"
    port = free_port()
    log = tmp_path / "voila.log"
    env = {**os.environ, "NST_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERAS_HOME": os.environ["KERAS_HOME"]}  # the weights built for this test session
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, process, log, SERVER_TIMEOUT_S)
        yield url, log
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # Voilà and the kernel it started
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_explorer_runs_in_a_browser(voila, tmp_path):
    from playwright.sync_api import sync_playwright

    url, log = voila
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2400})  # tall: the whole explorer in view
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, timeout=PAGE_TIMEOUT_S * 1000, wait_until="domcontentloaded")
            run = page.locator("button.nst-run")
            try:
                run.wait_for(state="visible", timeout=PAGE_TIMEOUT_S * 1000)
            except Exception:
                page.screenshot(path=str(tmp_path / "timeout.png"))
                raise AssertionError(f"the explorer did not appear; page errors {errors}; Voilà log:\n"
                                     f"{log.read_text()[-3000:]}")
            assert run.is_enabled()

            # move the style-weight slider to the right by dragging its handle
            slider = page.locator(".nst-style-weight")
            readout = slider.locator(".widget-readout")
            before_value = readout.inner_text()
            handle = slider.locator(".noUi-handle, .ui-slider-handle").first  # ipywidgets 8, 7
            handle.scroll_into_view_if_needed(timeout=10_000)
            box = handle.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=8)
            page.mouse.up()
            page.wait_for_function("([el, old]) => el.innerText !== old", arg=[readout.element_handle(), before_value],
                                   timeout=10_000)
            new_value = float(readout.inner_text())
            assert new_value > float(before_value)

            preview = page.locator("img.nst-preview")
            old_src = preview.get_attribute("src")
            cards = page.locator(".nst-gallery > *")
            cards_before = cards.count()
            run.click()
            page.wait_for_function("([img, old]) => img.getAttribute('src') !== old",
                                   arg=[preview.element_handle(), old_src], timeout=RUN_TIMEOUT_S * 1000)
            try:  # the run's end: a new gallery card, "Done", and the Run button enabled again
                page.wait_for_function(
                    f"document.querySelectorAll('.nst-gallery > *').length > {cards_before}"
                    " && document.querySelector('.nst-status').innerText.startsWith('Done')"
                    " && !document.querySelector('button.nst-run').disabled", timeout=RUN_TIMEOUT_S * 1000)
            except Exception:
                raise AssertionError(f"the run did not finish; status: {page.locator('.nst-status').inner_text()!r}, "
                                     f"message: {page.locator('.nst-message').inner_text()!r}") from None
            label = cards.first.inner_text()
            mantissa, exponent = f"{new_value:.1e}".split("e")
            assert f"style {mantissa.rstrip('0').rstrip('.')}e{int(exponent)}" in label, label  # the kernel got the value
            assert page.locator(".nst-message").inner_text().strip() == ""  # no error shown
            assert preview.evaluate("img => img.naturalWidth") > 0  # the new src decodes as an image
            page.locator(".nst-explorer").screenshot(path=str(tmp_path / "explorer.png"))
            assert (tmp_path / "explorer.png").stat().st_size > 10_000
        finally:
            browser.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    assert not re.search(r"Traceback", log.read_text()), log.read_text()[-3000:]
