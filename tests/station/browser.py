"""What the browser tests share: a page with dialogs watched, polling under a strict CSP, screenshots."""

from __future__ import annotations

import os
import time
from pathlib import Path

SHOTS = os.environ.get("EDGE_ALL_STATION_SCREENSHOTS")


def new_page(browser, width: int = 1100, height: int = 760):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    return context, page


def wait_until(page, predicate: str, arg=None, timeout: float = 15.0) -> None:
    """Poll a JavaScript function until it returns true (wait_for_function evaluates strings, which
    the station's Content-Security-Policy rightly forbids)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(predicate, arg):
                return
        except Error:  # the page is between two documents (a form was just sent)
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {predicate}")
        page.wait_for_timeout(100)


def shoot(page, name: str, full_page: bool = False) -> None:
    """Save a small screenshot for docs/station.md when EDGE_ALL_STATION_SCREENSHOTS=DIR asks for it."""
    if not SHOTS:
        return
    from PIL import Image

    path = Path(SHOTS) / f"station-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    Image.open(path).convert("RGB").quantize(128).save(path, optimize=True)
