"""The heat map, the full-size view and the report, as a specialist uses them (real server, real chromium):
a click on a picture with its heat map on opens the field (the overlay lets it through), the heat map
has a legend, the full-size view has a way back to the same place; the report numbers fields as the
slide page does (#n), its pictures show the specialist's correction, and its disclaimer is kept whole."""

from __future__ import annotations

import pytest

from edge_all.results.store import ResultsStore, Review

from .browser import shoot, wait_until
from .helpers import STOPPED_CLEANLY, SeededField, seed_slide, start_station

SLIDE = "HR-0001"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("heat-report")
    ids = seed_slide(
        tmp / "results.db", tmp / "frames", SLIDE,
        [SeededField("classified", "Benign", 0.95)] * 6
        + [SeededField("classified", "Pre", 0.91, heatmap=True), SeededField("classified", "Pro", 0.88),
           SeededField("uncertain", "Early", 0.5, heatmap=True)],
    )  # fmt: skip
    with ResultsStore.open(tmp / "results.db") as store:
        at = "2026-03-02T09:00:00.000+00:00"
        store.add_review(Review(SLIDE, "Dr Okafor", "Benign", at, capture_id=ids[6], comment="a hematogone"))
    server = start_station(tmp, reference_model, "video:/nonexistent.avi")
    server.ids = ids
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def test_a_click_through_the_heat_map_opens_the_field_and_leads_back(page, station):
    page.goto(f"{station.url}/slide?id={SLIDE}&show=flagged")
    card = page.locator(f"#field-{station.ids[6]}")
    legend = card.locator(".heat-legend")
    assert not legend.is_visible()
    card.get_by_text("heat map").click()
    assert card.locator("img.heat").is_visible() and legend.is_visible()
    assert "where it looked most" in legend.inner_text()
    shoot(page, "slide", full_page=True)
    card.locator("img.thumb").click()  # the overlay is on top, and lets the click through
    page.wait_for_url("**/field?**")
    assert page.locator("h1").inner_text().startswith("Field #7")
    wait_until(page, "() => document.getElementById('full-image').naturalWidth > 0")
    assert "corrected to Benign by Dr Okafor" in page.locator("main").inner_text()
    page.get_by_text("heat map").click()
    assert page.locator(".heat-legend").is_visible()
    shoot(page, "field")
    page.click("#back")
    page.wait_for_url(f"**show=flagged#field-{station.ids[6]}")
    assert page.locator("#fields article").count() == 3  # the flagged fields, as they were


def test_the_report_numbers_fields_as_the_slide_does_and_shows_the_correction(page, station):
    page.goto(f"{station.url}/report?id={SLIDE}")
    reviews = page.locator("#report-review").inner_text()
    assert "Field #7: Benign" in reviews and "Field 7" not in reviews  # the report's own numbering
    figure = page.locator(".report-grid figure").first
    caption = figure.locator("figcaption").inner_text()
    assert caption.startswith("#7") and "specialist: Benign" in caption
    assert "model: ALL-like: Pre 91%" in caption
    assert page.locator(".report-grid figure").nth(1).locator("figcaption").inner_text().startswith("#8")
    page.emulate_media(media="print")
    for selector in ("#disclaimer", "#statement"):
        rule = page.locator(selector).evaluate("el => getComputedStyle(el).breakInside")
        assert rule == "avoid", (selector, rule)
    assert page.pdf(format="A4").startswith(b"%PDF")
