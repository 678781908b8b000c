"""Plain words everywhere a person reads (real server, real chromium): what each result and call means
and what to do next, quality as good or poor with its reason (numbers on request), one way to count,
no program output, and a header badge that follows the capture without a reload."""

from __future__ import annotations

import json
import re
import time

import pytest

from .browser import new_page, shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, start_station

SLIDE = "PW-0001"
ONE = "PW-ONE"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model, smear_video):
    tmp = tmp_path_factory.mktemp("plain-words")
    seed_slide(
        tmp / "results.db", tmp / "frames", SLIDE,
        [SeededField("classified", "Pre", 0.91), SeededField("classified", "Benign", 0.97),
         SeededField("uncertain", "Early", 0.48),
         SeededField("referred", "Pre", 0.7, reason="unlike the images this model was trained on"),
         SeededField("rejected", None, reason="out_of_focus: focus 12.0 < 40"),
         SeededField("rejected", None, reason="too_dark: mean brightness 20.0 < 40")],
    )  # fmt: skip
    seed_slide(tmp / "results.db", tmp / "frames", ONE, [SeededField("classified", "Benign", 0.9)])
    server = start_station(tmp, reference_model, f"video:{smear_video}", "--interval", "0.5")
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def no_clumsy_counts(text: str) -> None:
    assert "field(s)" not in text and not re.search(r"\b1 fields\b", text), text
    assert "(quality))" not in text and "TrainedOn(" not in text and "stopped by signal" not in text


def test_each_field_says_what_it_means_and_what_to_do(page, station):
    page.goto(f"{station.url}/slide?id={SLIDE}")
    cards = page.locator("#fields article")
    texts = [cards.nth(i).inner_text() for i in range(cards.count())]
    assert "ALL-like: Pre 91%" in texts[0] and "This slide goes to a specialist" in texts[0]
    assert "Normal-looking (Benign) 97%" in texts[1]
    assert "Not sure (best guess Early 48%)" in texts[2] and "a specialist looks at it" in texts[2]
    assert "Unfamiliar" in texts[3] and "unlike the pictures the model learned from" in texts[3]
    assert "Poor picture: out of focus" in texts[4]
    assert "Poor picture: too dark" in texts[5]
    assert "picture quality: good" in texts[0] and "picture quality: poor: out of focus" in texts[4]
    figures = cards.nth(0).locator("details.quality small")
    assert not figures.is_visible()  # the numbers only on request
    cards.nth(0).locator("details.quality summary").click()
    assert "focus 300" in figures.inner_text()
    call = page.locator("#call").inner_text()
    assert "Not enough yet to say" in call and "Capture more good fields" in call
    assert "6 fields on the slide: 2 good (1 ALL-like), 1 not sure, 1 unfamiliar, 2 poor picture" in call
    no_clumsy_counts(page.locator("main").inner_text())
    page.goto(f"{station.url}/slide?id={ONE}")
    assert "1 field on the slide" in page.locator("#call").inner_text()
    no_clumsy_counts(page.locator("main").inner_text())
    page.goto(station.url + "/")
    no_clumsy_counts(page.locator("main").inner_text())


def test_the_live_view_says_what_to_do_and_why_the_capture_ended(page, station):
    page.goto(station.url + "/new")
    page.fill("#sample-id", "PW-LIVE")
    page.click("#start")
    wait_until(page, "() => document.getElementById('live-next').textContent.trim() !== ''")
    assert page.locator("#live-meaning").inner_text().strip()
    assert page.locator("#live-quality").inner_text() == "good" or page.locator(
        "#live-quality"
    ).inner_text().startswith("poor: ")
    assert page.locator("#capture-badge").is_visible()
    shoot(page, "new-slide")

    # Elsewhere, the header badge follows the capture and goes when it ends, without a reload.
    other, slides = new_page(page.context.browser)
    slides.goto(station.url + "/slides")
    slides.evaluate("window.__sameDocument = true")
    assert "capturing PW-LIVE" in slides.locator("#capture-badge").inner_text()
    page.click("#stop")
    wait_until(page, "() => document.getElementById('live-state').textContent === 'finished'", timeout=30)
    outcome = page.locator("#live-outcome").inner_text()
    assert outcome.startswith("Stopped: Stop was pressed.") and "signal" not in outcome
    assert not page.locator("#capture-badge").is_visible()
    wait_until(slides, "() => document.getElementById('capture-badge').hidden", timeout=10)
    assert slides.evaluate("window.__sameDocument") is True
    other.close()
    no_clumsy_counts(page.locator("main").inner_text())


def test_one_field_is_one_field(page, station):
    client = Client(station.url)
    token = client.csrf("/new")
    assert client.post("/capture/start", {"csrf_token": token, "sample_id": "PW-1", "count": "1"})[0] == 303
    deadline = time.monotonic() + 60
    while json.loads(client.get("/capture/state")[2])["active"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page.goto(station.url + "/new")
    assert page.locator("#live-frames").inner_text() == "1"
    assert page.locator("#live-frames-word").inner_text() == "field"
    assert page.locator("#live-counts").inner_text().startswith("1 field on the slide")
    no_clumsy_counts(page.locator("main").inner_text())
