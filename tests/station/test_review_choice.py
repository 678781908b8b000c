"""The review is the reviewer's, and a reviewed slide never changes silently (real server, real chromium).

- Nothing is preselected: the field and slide forms show the model's answer beside the choices, and
  a review cannot be saved before a choice is made (the browser refuses, and so does the server).
- Starting a capture under the sample id of a reviewed slide is refused until the technician
  confirms a new session of that sample; the slide then says that new fields arrived after the
  review, and its field numbers stay unique (#1, #2, ... across both sessions).
"""

from __future__ import annotations

import json
import time

import pytest

from edge_all.results.store import ResultsStore, Review

from .browser import shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, start_station

UNREVIEWED = "RC-0001"
REVIEWED = "RC-0002"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model, smear_video):
    tmp = tmp_path_factory.mktemp("review-choice")
    db, frames = tmp / "results.db", tmp / "frames"
    seed_slide(
        db, frames, UNREVIEWED,
        [SeededField("referred", "Pre", 0.55, reason="unlike the images this model was trained on"),
         SeededField("classified", "Benign", 0.97), SeededField("classified", "Pro", 0.9)],
    )  # fmt: skip
    seed_slide(db, frames, REVIEWED, [SeededField("classified", "Benign", 0.95)] * 3)
    with ResultsStore.open(db) as store:
        store.add_review(Review(REVIEWED, "Dr Okafor", "no ALL-like cells", "2026-03-02T09:00:00.000+00:00"))
    server = start_station(tmp, reference_model, f"video:{smear_video}", "--interval", "0.1")
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def reviews(station, sample_id: str) -> list[tuple]:
    with ResultsStore.open(station.db, create=False) as store:
        return [(r["capture_id"], r["decision"], r["reviewer"]) for r in store.reviews(sample_id)]


def test_a_field_review_starts_with_nothing_chosen_and_cannot_be_saved_without_a_choice(page, station):
    page.goto(f"{station.url}/slide?id={UNREVIEWED}")
    card = page.locator("#fields article").nth(0)
    card.get_by_text("Review this field").click()
    radios = card.locator("input[name=decision]")
    assert radios.count() == 5  # the four classes and "not assessable"
    assert not any(radios.nth(i).is_checked() for i in range(radios.count()))
    assert card.locator("select").count() == 0
    said = card.locator(".model-said").inner_text()
    assert "Pre" in said and "55%" in said  # the model's answer, beside the choice, not in it
    card.locator("input[name=reviewer]").fill("Dr Haddad")
    card.get_by_role("button", name="Save field review").click()
    page.wait_for_timeout(500)
    assert reviews(station, UNREVIEWED) == []  # the browser would not send it
    assert card.locator("input[name=decision]:invalid").count() == 5
    shoot(page, "review-choice")
    card.get_by_label("Benign").check()
    card.get_by_role("button", name="Save field review").click()
    wait_until(page, "() => document.querySelector('#fields article .review-shown') !== null")
    capture_id = int(card.get_attribute("id").removeprefix("field-"))
    assert reviews(station, UNREVIEWED) == [(capture_id, "Benign", "Dr Haddad")]
    assert "corrected to Benign by Dr Haddad" in page.locator("#fields article").nth(0).inner_text()


def test_a_slide_review_starts_with_nothing_chosen_and_keeps_the_filter(page, station):
    page.goto(f"{station.url}/slide?id={UNREVIEWED}&show=flagged")
    form = page.locator("#sample-review-form")
    radios = form.locator("input[name=decision]")
    assert radios.count() == 3 and not any(radios.nth(i).is_checked() for i in range(3))
    assert form.locator(".model-said").inner_text() == "inconclusive"  # the model's call, beside
    form.locator("input[name=reviewer]").fill("Dr Haddad")
    form.get_by_role("button", name="Save slide review").click()
    page.wait_for_timeout(500)
    assert [r for r in reviews(station, UNREVIEWED) if r[0] is None] == []
    form.get_by_label("refer").check()
    form.get_by_role("button", name="Save slide review").click()
    wait_until(page, "() => document.getElementById('sample-reviews')?.textContent.includes('Dr Haddad')")
    assert page.url.endswith("show=flagged")  # no reload, the filter stays
    assert "refer by Dr Haddad" in page.locator("#sample-reviews").inner_text()
    assert page.locator("#fields article").count() == 2  # still the flagged fields only


def test_the_server_refuses_a_review_without_a_choice_or_with_another(station):
    client = Client(station.url)
    token = client.csrf(f"/slide?id={UNREVIEWED}")
    with ResultsStore.open(station.db, create=False) as store:
        field = next(store.captures(sample_id=UNREVIEWED))["id"]
    before = reviews(station, UNREVIEWED)
    base = {"csrf_token": token, "sample_id": UNREVIEWED, "reviewer": "Dr X"}
    for form in ({**base, "capture_id": str(field)}, {**base, "capture_id": str(field), "decision": "refer"},
                 {**base}, {**base, "decision": "Pre"}):  # fmt: skip
        status, _, body, _ = client.post("/review", form)
        assert status == 400, (form, status)
    assert reviews(station, UNREVIEWED) == before


def test_a_reviewed_sample_id_is_refused_until_a_new_session_is_confirmed(page, station):
    page.goto(station.url + "/new")
    page.fill("#sample-id", REVIEWED)
    page.fill("#count", "2")
    page.click("#start")
    warning = page.locator("#reviewed-sample")
    assert "has already been reviewed" in warning.inner_text()
    assert "Dr Okafor" in warning.inner_text() and "no ALL-like cells" in warning.inner_text()
    shoot(page, "reviewed-sample")
    state = json.loads(Client(station.url).get("/capture/state")[2])
    assert not state["active"] and state["sample_id"] is None  # nothing started
    with ResultsStore.open(station.db, create=False) as store:
        assert len(list(store.captures(sample_id=REVIEWED))) == 3

    page.click("#new-session")
    deadline = time.monotonic() + 60
    while json.loads(Client(station.url).get("/capture/state")[2])["state"] != "finished":
        assert time.monotonic() < deadline, "the new session did not finish"
        time.sleep(0.2)
    with ResultsStore.open(station.db, create=False) as store:
        rows = list(store.captures(sample_id=REVIEWED))
        sessions = store.sessions_of_sample(REVIEWED)
    assert len(rows) == 5 and len(sessions) == 2  # a second, linked session of the sample
    assert [row["field_number"] for row in rows] == [1, 2, 3, 4, 5]  # never #0-#2 twice

    page.goto(f"{station.url}/slide?id={REVIEWED}")
    assert "2 fields arrived after the last review" in page.locator("#after-review").inner_text()
    numbers = page.locator("#fields .number").all_inner_texts()
    assert numbers == ["#1", "#2", "#3", "#4", "#5"]
    page.goto(f"{station.url}/slides?q={REVIEWED}")
    assert "2 new fields since the review" in page.locator("#slides tbody tr").inner_text()
