"""The station as its users meet it: the real server in a subprocess, driven by a real chromium.

One server and one browser for the module. The technician starts a capture from a video and
watches fields appear (the page is live, and closing it does not stop the capture), stops one;
the specialist opens a slide, toggles a heat map, corrects a field, reviews the slide, opens the
printable report and exports CSV; a sample id with a script in it is only ever text.

EDGE_ALL_STATION_SCREENSHOTS=DIR also saves the pictures in docs/station.md (docs/img).
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path

import pytest

from edge_all.results.store import ResultsStore, Review

from .browser import shoot, wait_until
from .conftest import VIDEO_FRAMES
from .helpers import STOPPED_CLEANLY, SeededField, seed_slide, start_station

HEAT_SLIDE = "HM-0001"
REPORT_SLIDE = "RP-0002"
SCRIPT_ID = "<script>window.__xss = 1</script>"


@pytest.fixture(scope="module")
def station(tmp_path_factory, int8_bundle, smear_video):
    tmp = tmp_path_factory.mktemp("station")
    frames = tmp / "frames"
    seed_slide(
        tmp / "results.db", frames, HEAT_SLIDE,
        [SeededField("classified", "Pre", 0.91, heatmap=True), SeededField("classified", "Benign", 0.97),
         SeededField("uncertain", "Early", 0.48, heatmap=True),
         SeededField("rejected", None, reason="out_of_focus: focus 12 < 40")],
    )  # fmt: skip
    ids = seed_slide(
        tmp / "results.db", frames, REPORT_SLIDE,
        [SeededField("classified", "Pro", 0.88), SeededField("classified", "Early", 0.93),
         SeededField("classified", "Benign", 0.95),
         SeededField("referred", "Pre", 0.7, reason="unlike the images this model was trained on")],
    )  # fmt: skip
    with ResultsStore.open(tmp / "results.db") as store:
        at = "2026-03-02T09:00:00.000+00:00"
        store.add_review(Review(REPORT_SLIDE, "Dr Okafor", "Pre", at, capture_id=ids[0], comment="Pre-B"))
        store.add_review(
            Review(REPORT_SLIDE, "Dr Okafor", "refer", at, comment="=1+1 blasts; flow cytometry")
        )
    seed_slide(tmp / "results.db", frames, SCRIPT_ID, [SeededField("classified", "Benign", 0.9)])
    server = start_station(tmp, int8_bundle, f"video:{smear_video}", "--interval", "0.3")
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()
    assert "Application shutdown complete" in server.output()


@pytest.fixture
def page(browser, station):
    context = browser.new_context(viewport={"width": 1100, "height": 760}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()
    assert not dialogs, f"a page opened a dialog (script ran?): {dialogs}"


def live(page, name: str) -> str:
    return page.locator(f"#live-{name}").inner_text()


def wait_for_state(page, states: tuple[str, ...], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = live(page, "state")
        if state in states:
            return state
        page.wait_for_timeout(100)
    raise AssertionError(f"capture still {live(page, 'state')!r} after {timeout} s")


def test_capture_from_a_video_shows_fields_as_they_are_recorded(page, station, browser):
    page.goto(station.url + "/")
    shoot(page, "station")
    page.goto(station.url + "/new")
    page.fill("#sample-id", "S-LIVE-0001")
    page.click("#start")
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    seen = set()
    deadline = time.monotonic() + 30
    while len(seen) < 3 and time.monotonic() < deadline:
        seen.add(int(live(page, "frames")))
        page.wait_for_timeout(100)
    assert len(seen - {0}) >= 2, f"the page showed only {sorted(seen)} fields: not live"
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#stop-form").is_visible() and not page.locator("#start-form").is_visible()
    wait_until(page, "() => document.getElementById('live-thumb').naturalWidth > 0")
    assert live(page, "result").strip() != ""
    assert live(page, "quality") in ("good",) or live(page, "quality").startswith("poor: ")
    assert "TrainedOn(" not in page.content()
    shoot(page, "new-slide")

    # The capture lives in the station: closing the page mid-capture changes nothing.
    page.close()
    again = browser.new_page()
    again.goto(station.url + "/new")
    assert wait_for_state(again, ("finished", "failed")) == "finished", live(again, "outcome")
    assert int(live(again, "frames")) == VIDEO_FRAMES
    assert "end after" in live(again, "outcome")
    assert live(again, "call").startswith(("Refer:", "No ALL-like", "Not enough yet"))
    assert again.locator("#live-recent img").count() == VIDEO_FRAMES
    again.close()
    with ResultsStore.open(station.db, create=False) as store:
        rows = list(store.captures(sample_id="S-LIVE-0001"))
    assert len(rows) == VIDEO_FRAMES
    assert all(Path(row["image_path"]).is_file() for row in rows)


def test_stop_ends_the_capture_after_the_field_in_hand(page, station):
    page.goto(station.url + "/new")
    page.fill("#sample-id", "S-STOP-0002")
    page.click("#start")
    wait_until(page, "() => Number(document.getElementById('live-frames').textContent) >= 2")
    page.click("#stop")
    assert wait_for_state(page, ("finished", "failed")) == "finished"
    frames = int(live(page, "frames"))
    assert 2 <= frames < VIDEO_FRAMES
    with ResultsStore.open(station.db, create=False) as store:
        assert len(list(store.captures(sample_id="S-STOP-0002"))) == frames
        (session,) = store.sessions_of_sample("S-STOP-0002")
    assert session["ended_at"] and "stopped" in session["end_reason"]


def test_open_a_slide_from_the_list_and_toggle_a_heat_map(page, station):
    page.goto(station.url + "/slides")
    row = page.locator("#slides tr", has_text=HEAT_SLIDE)
    assert "new" in row.inner_text()
    shoot(page, "slides")
    row.get_by_role("link", name=HEAT_SLIDE).click()
    assert page.locator("#sample-id").inner_text() == HEAT_SLIDE
    assert "inconclusive" in page.locator("#call").inner_text()
    cards = page.locator("#fields article")
    assert cards.count() == 4
    first = cards.nth(0)
    assert "Pre" in first.inner_text() and "91%" in first.inner_text()
    assert "Poor picture: out of focus" in cards.nth(3).inner_text()
    heat = first.locator("img.heat")
    assert not heat.is_visible()
    first.get_by_text("heat map").click()
    assert heat.is_visible()
    wait_until(page, "el => el.complete && el.naturalWidth > 0", heat.element_handle())
    shoot(page, "slide", full_page=True)
    first.get_by_text("heat map").click()
    assert not heat.is_visible()
    assert cards.nth(1).locator(".heat-label").count() == 0  # no heat map recorded for that field


def test_a_review_corrects_a_field_beside_the_models_result(page, station):
    page.goto(f"{station.url}/slide?id={HEAT_SLIDE}")
    card = page.locator("#fields article").nth(0)
    card.get_by_text("Review this field").click()
    card.get_by_label("Benign").check()
    card.locator("input[name=reviewer]").fill("Dr Haddad")
    card.locator("input[name=comment]").fill("a hematogone, not a blast")
    card.get_by_role("button", name="Save field review").click()
    card = page.locator("#fields article").nth(0)
    wait_until(page, "() => document.querySelector('#fields article .review-shown') !== null")
    text = card.inner_text()
    assert "corrected to Benign by Dr Haddad" in text and "a hematogone, not a blast" in text
    assert "Pre" in text and "91%" in text  # the model's result, as recorded, beside the review

    form = page.locator("#sample-review-form")
    form.get_by_label("no ALL-like cells").check()
    assert form.locator("input[name=reviewer]").input_value() == "Dr Haddad"  # offered again
    form.get_by_role("button", name="Save slide review").click()
    wait_until(page, "() => document.getElementById('sample-reviews')?.textContent.includes('Dr Haddad')")
    assert "no ALL-like cells by Dr Haddad" in page.locator("#sample-reviews").inner_text()
    assert "inconclusive" in page.locator("#call").inner_text()  # the model's call stays

    with ResultsStore.open(station.db, create=False) as store:
        field = next(store.captures(sample_id=HEAT_SLIDE))
        reviews = store.reviews(HEAT_SLIDE)
    assert field["label"] == "Pre" and field["confidence"] == pytest.approx(0.91)
    assert [(r["capture_id"], r["decision"], r["reviewer"]) for r in reviews] == [
        (field["id"], "Benign", "Dr Haddad"),
        (None, "no ALL-like cells", "Dr Haddad"),
    ]
    page.goto(station.url + f"/slides?q={HEAT_SLIDE}")
    assert "reviewed" in page.locator("#slides tbody tr").inner_text()


def test_the_printable_report(page, station):
    page.goto(f"{station.url}/slide?id={REPORT_SLIDE}")
    page.click("#report-link")
    report = page.locator("#report")
    text = report.inner_text()
    assert page.locator("#report-sample").inner_text() == REPORT_SLIDE
    assert "A screening aid, not a diagnosis." in text
    assert "5e5e5e5e5e5e" in text and "station" in text  # the model's fingerprint, the station
    assert "refer: ALL-like cells in 2 of 3 good fields" in text
    assert "Field" in text and "Pre" in text and "Dr Okafor" in text and "flow cytometry" in text
    flagged = report.locator(".report-grid img")
    assert flagged.count() == 3  # Pro, Early and the referred field; not the Benign one
    page.wait_for_function(
        "[...document.querySelectorAll('.report-grid img')].every(i => i.naturalWidth > 0)"
    )
    datetime.strptime(report.locator("dd").first.inner_text().split(" (")[0], "%Y-%m-%d %H:%M:%S")
    shoot(page, "report", full_page=True)

    page.emulate_media(media="print")
    assert not page.locator("header.bar").is_visible()
    assert not page.locator("#print").is_visible()
    assert page.locator("#statement").is_visible()
    assert page.pdf(format="A4").startswith(b"%PDF")


def test_export_a_slide_and_a_date_range_as_csv(page, station):
    page.goto(f"{station.url}/slide?id={REPORT_SLIDE}")
    with page.expect_download() as download:
        page.click("#export-link")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [row["label"] for row in rows] == ["Pro", "Early", "Benign", "Pre"]
    (call,) = {row["sample_call"] for row in rows}
    assert call.startswith("refer: ALL-like cells in 2 of 3 good fields")
    assert rows[0]["review_decision"] == "Pre" and rows[1]["review_decision"] == ""
    # A comment that a spreadsheet would run as a formula is written as text.
    assert rows[0]["sample_review_comment"] == "'=1+1 blasts; flow cytometry"

    day = datetime.fromisoformat("2026-03-02T08:00:00+00:00").astimezone().date().isoformat()
    page.goto(station.url + "/slides")
    page.fill("input[name=from]", day)
    page.fill("input[name=to]", day)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert {row["sample_id"] for row in rows} == {HEAT_SLIDE, REPORT_SLIDE, SCRIPT_ID}
    assert len(rows) == 9


def test_a_sample_id_with_a_script_is_only_text(page, station):
    page.goto(station.url + "/slides?q=script")
    link = page.locator("#slides tbody a")
    assert link.inner_text() == SCRIPT_ID
    link.click()
    assert page.locator("#sample-id").inner_text() == SCRIPT_ID
    page.goto(f"{station.url}/report?id={SCRIPT_ID}")
    assert page.locator("#report-sample").inner_text() == SCRIPT_ID
    assert page.evaluate("window.__xss") is None
