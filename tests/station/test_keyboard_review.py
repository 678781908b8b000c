"""The keyboard review (real server, real chromium): next and previous field, a key per class shown on
screen, "not assessable", save, all without a reload, the filter kept; the reviews land in the database
beside the model's results. Without the script the same forms post and come back to the same filter."""

from __future__ import annotations

import pytest

from edge_all.results.store import ResultsStore

from .browser import new_page, shoot, wait_until
from .helpers import STOPPED_CLEANLY, SeededField, seed_slide, start_station

SLIDE = "KB-0001"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("keyboard")
    ids = seed_slide(
        tmp / "results.db", tmp / "frames", SLIDE,
        [SeededField("classified", "Pre", 0.91), SeededField("classified", "Benign", 0.97),
         SeededField("uncertain", "Early", 0.48), SeededField("classified", "Pro", 0.9)],
    )  # fmt: skip
    server = start_station(tmp, reference_model, "video:/nonexistent.avi")
    server.ids = ids
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def reviews(station) -> list[tuple]:
    with ResultsStore.open(station.db, create=False) as store:
        return [(r["capture_id"], r["decision"], r["reviewer"]) for r in store.reviews(SLIDE)]


def test_review_flagged_fields_with_the_keyboard_without_a_reload(browser, station):
    context, page = new_page(browser)
    page.goto(f"{station.url}/slide?id={SLIDE}&show=flagged")
    page.evaluate("window.__sameDocument = true")
    keys = page.locator("#review-keys").inner_text()
    for hint in ("1 Benign", "2 Early", "3 Pre", "4 Pro", "0 not assessable", "Enter"):
        assert hint in keys, (hint, keys)
    pre, _, early, pro = station.ids
    assert page.locator("#fields article").count() == 3  # Pre, Early, Pro: the flagged ones

    page.keyboard.press("j")  # the first field
    assert "current" in page.locator(f"#field-{pre}").get_attribute("class")
    page.keyboard.press("1")  # Benign: the specialist corrects the model
    assert page.locator(f"#field-{pre} input[value=Benign]").is_checked()
    page.keyboard.press("Enter")  # no name yet: it asks for one, and saves nothing
    assert "Type your name" in page.locator("#review-status").inner_text()
    assert reviews(station) == []
    page.keyboard.type("Dr Kim")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    wait_until(page, "() => document.getElementById('review-status').textContent.startsWith('Saved')")
    assert reviews(station) == [(pre, "Benign", "Dr Kim")]
    assert "current" in page.locator(f"#field-{early}").get_attribute("class")  # moved on
    shoot(page, "keyboard-review")

    page.keyboard.press("0")  # not assessable
    page.keyboard.press("Enter")
    wait_until(page, f"() => document.querySelector('#field-{early} .review-shown') !== null")
    page.keyboard.press("k")  # back, twice: the first field
    page.keyboard.press("k")
    assert "current" in page.locator(f"#field-{pre}").get_attribute("class")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("4")  # Pro: the model confirmed
    page.keyboard.press("Enter")
    wait_until(page, f"() => document.querySelector('#field-{pro} .review-shown') !== null")
    assert reviews(station) == [(pre, "Benign", "Dr Kim"), (early, "not assessable", "Dr Kim"),
                                (pro, "Pro", "Dr Kim")]  # fmt: skip
    assert "corrected to Benign by Dr Kim" in page.locator(f"#field-{pre}").inner_text()
    assert "confirmed by Dr Kim" in page.locator(f"#field-{pro}").inner_text()
    assert page.evaluate("window.__sameDocument") is True and page.url.endswith("show=flagged")
    context.close()


def test_without_the_script_a_save_comes_back_to_the_same_filter(browser, station):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{station.url}/slide?id={SLIDE}&show=flagged")
    card = page.locator("#fields article").nth(1)
    card.get_by_text("Review this field").click()
    card.get_by_label("Early").check()
    card.locator("input[name=reviewer]").fill("Dr Lee")
    card.get_by_role("button", name="Save field review").click()
    page.wait_for_url("**show=flagged**")
    assert page.locator("#fields article").count() == 3
    assert "confirmed by Dr Lee" in page.locator("#fields article").nth(1).inner_text()
    context.close()
