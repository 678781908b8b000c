"""Capture this field (real server, real chromium, a real video through the shipped reference bundle):
the technician chooses a manual capture, nothing is taken until they press the button or Space, each
press takes one field, without a reload; the timed mode stays the default."""

from __future__ import annotations

import json

import pytest

from edge_all.results.store import ResultsStore

from .browser import shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, start_station


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model, smear_video):
    tmp = tmp_path_factory.mktemp("capture-field")
    server = start_station(tmp, reference_model, f"video:{smear_video}", "--interval", "0.2")
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def frames(page) -> int:
    return int(page.locator("#live-frames").inner_text())


def test_a_manual_capture_takes_a_field_for_each_press_of_the_button_or_space(page, station):
    page.goto(station.url + "/new")
    assert page.locator("#mode-timed").is_checked() and not page.locator("#mode-manual").is_checked()
    page.fill("#sample-id", "CF-0001")
    page.check("#mode-manual")
    page.click("#start")
    page.evaluate("window.__sameDocument = true")
    wait_until(page, "() => document.getElementById('live-state').textContent === 'running'", timeout=30)
    assert page.locator("#capture-field").is_visible()
    page.wait_for_timeout(1500)  # at 0.2 s a field, a timed capture would have taken several by now
    assert frames(page) == 0
    shoot(page, "capture-field")

    page.click("#capture-field")
    wait_until(page, "() => document.getElementById('live-frames').textContent === '1'")
    page.locator("h1").click()  # focus off the button: Space is the page's shortcut
    page.keyboard.press("Space")
    wait_until(page, "() => document.getElementById('live-frames').textContent === '2'")
    page.wait_for_timeout(800)
    assert frames(page) == 2  # one field a press, no more
    assert page.evaluate("window.__sameDocument") is True  # no reload
    page.click("#stop")
    wait_until(page, "() => document.getElementById('live-state').textContent === 'finished'", timeout=30)
    assert not page.locator("#capture-field").is_visible()
    with ResultsStore.open(station.db, create=False) as store:
        rows = list(store.captures(sample_id="CF-0001"))
    assert [row["field_number"] for row in rows] == [1, 2]


def test_capture_this_field_without_a_manual_capture_is_refused(station):
    client = Client(station.url)
    token = client.csrf("/new")
    status, _, body, _ = client.post(
        "/capture/field", {"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert status == 409 and "start one first" in json.loads(body)["error"]
