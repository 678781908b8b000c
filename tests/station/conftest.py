"""Fixtures for the station tests: a real video of smears, and a real browser (Debian's chromium).

Playwright drives the chromium that apt installs (`executable_path`); its own browser download is
never used (it cannot work offline). Where chromium or playwright is missing the browser tests
skip and say why, except where EDGE_ALL_REQUIRE_BROWSER=1 (set by .ci/run): there they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.capture.helpers import write_video
from tests.station.browser import new_page

CHROMIUM = os.environ.get("EDGE_ALL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
REQUIRE_BROWSER = "EDGE_ALL_REQUIRE_BROWSER"
VIDEO_FRAMES = 10
CLASSES = ("Benign", "Early", "Pre", "Pro")


def browser_problem() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"no chromium at {CHROMIUM} (sudo apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = browser_problem()
    if problem is not None:
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{REQUIRE_BROWSER}=1 but {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def smear_video(tmp_path_factory) -> Path:
    """A real Motion-JPEG AVI of ten synthetic smears, all four classes."""
    from training.demo_data import draw_smear

    rng = np.random.default_rng(11)
    frames = [draw_smear(CLASSES[i % 4], rng)[0] for i in range(VIDEO_FRAMES)]
    return write_video(tmp_path_factory.mktemp("video") / "slide.avi", frames, fps=5.0)


@pytest.fixture(scope="session")
def reference_model() -> Path:
    """The int8 reference bundle the package ships: a real model, no training needed."""
    from edge_all.runtime.models import reference_bundle

    return reference_bundle()


@pytest.fixture
def page(browser, station):
    """A fresh page on the test file's own `station`, failing the test if a script opened a dialog."""
    context, page = new_page(browser)
    yield page
    context.close()
    assert not page.dialogs, page.dialogs
