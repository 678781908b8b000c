"""The cell gallery and the boxes everywhere (issue 27, items 6 and 7), as a specialist uses them (real
`edge-all serve`, real chromium, real SQLite): every white cell of a slide as a crop of its stored field,
grouped by the model's class with ALL-like classes first and counted; each crop is exactly its box; a
per-cell correction that preselects nothing, saves without a reload, is stored in cell_reviews beside the
model's cell, audited, and shown in the gallery, on the field and in the report; the report draws the
boxes; the flagged filter reads the session's label roles."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pytest
from PIL import Image

from edge_all.results.judged import JudgedCell
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo
from edge_all.station.images import cell_crop

from .browser import shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, start_station

SLIDE = "CG-0001"
# Label order is not role order: the gallery must put the ALL-like class first all the same.
LABELS = ["neutrophil", "lymphocyte", "blast", "smudge", "platelet"]
ROLES = {
    "neutrophil": "not_all_like", "lymphocyte": "not_all_like", "blast": "all_like", "smudge": "refer",
    "platelet": "not_a_white_cell",
}  # fmt: skip
GREY, LEFT, RIGHT = (200, 200, 200), (220, 30, 30), (240, 220, 20)
SIZE = (480, 360)
# field -> its cells: (box, label, confidence, status)
FIELDS = [
    ("classified", "blast", [((20, 40, 100, 120), "blast", 0.93, "all-like"),
                             ((200, 100, 260, 170), "neutrophil", 0.88, "cleared")]),
    ("classified", "neutrophil", [((60, 200, 140, 290), "neutrophil", 0.91, "cleared"),
                                  ((300, 30, 330, 60), "platelet", 0.71, "dropped")]),
    ("referred", "smudge", [((350, 220, 430, 300), "smudge", 0.55, "referred")]),
]  # fmt: skip


def field_picture(path, boxes) -> None:
    """A grey field whose every box is red on its left half and yellow on its right: a crop that is
    the box, no more and no less, is red then yellow edge to edge."""
    rgb = np.full((SIZE[1], SIZE[0], 3), GREY, np.uint8)
    for x0, y0, x1, y1 in boxes:
        middle = (x0 + x1) // 2
        rgb[y0:y1, x0:middle] = LEFT
        rgb[y0:y1, middle:x1] = RIGHT
    Image.fromarray(rgb).save(path)


def seed(db, frames) -> list[int]:
    frames.mkdir(parents=True, exist_ok=True)
    with ResultsStore.open(db) as store:
        session = store.start_session(
            SessionInfo(
                started_at="2026-03-02T08:00:00.000+00:00", source="video:seeded.avi", sample_id=SLIDE,
                model="bundles/cells", bundle_sha256="ce" * 32, labels=LABELS, threshold=0.6,
                quality_thresholds=None, edge_all_version="test", label_roles=ROLES,
            )
        )  # fmt: skip
        ids = []
        for index, (status, label, cells) in enumerate(FIELDS):
            image = frames / f"cells-{index}.png"
            field_picture(image, [box for box, *_ in cells])
            record = CaptureRecord(
                session_id=session, captured_at=f"2026-03-02T08:00:0{index}.000+00:00", sample_id=SLIDE,
                source="video:seeded.avi", frame_index=index, origin=f"video:seeded.avi#{index}",
                status=status, bundle_sha256="ce" * 32, image_path=str(image), label=label, confidence=0.9,
                reason="1 of 1 white cells referred (not sure)" if status == "referred" else None,
                cells=tuple(JudgedCell(box, lab, conf, st) for box, lab, conf, st in cells),
            )  # fmt: skip
            ids.append(store.add(record).id)
        store.end_session(session, "2026-03-02T08:01:00.000+00:00", "seeded")
    return ids


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("cell-gallery")
    ids = seed(tmp / "results.db", tmp / "frames")
    server = start_station(tmp, reference_model, "video:/nonexistent.avi")
    server.ids = ids
    server.accounts = tmp / "station-accounts.db"
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def cells_of(station) -> dict[str, list[dict]]:
    with ResultsStore.open(station.db, create=False) as store:
        found: dict[str, list[dict]] = {}
        for capture_id in station.ids:
            for cell in store.cells(capture_id):
                found.setdefault(cell["label"], []).append(cell)
        return found


def test_the_gallery_groups_by_class_all_like_first_and_counts(page, station):
    page.goto(f"{station.url}/slide?id={SLIDE}")
    page.click("#gallery-link")
    page.wait_for_url(f"{station.url}/cells?id={SLIDE}")
    sections = page.locator("section.cell-class")
    assert [sections.nth(i).get_attribute("data-label") for i in range(sections.count())] == [
        "blast", "smudge", "neutrophil", "platelet",
    ]  # fmt: skip
    counts = {
        el.get_attribute("data-label"): int(el.inner_text()) for el in page.locator(".class-count").all()
    }
    assert counts == {"blast": 1, "smudge": 1, "neutrophil": 2, "platelet": 1}
    assert "5 cells the model found" in page.locator("#cell-classes").inner_text()
    cells = cells_of(station)
    neutrophils = page.locator("section[data-label=neutrophil] article")
    assert neutrophils.count() == 2
    first = neutrophils.nth(0)
    assert "neutrophil 88%" in first.inner_text() and "not ALL-like" in first.inner_text()
    assert first.get_attribute("id") == f"gallery-cell-{cells['neutrophil'][0]['id']}"
    assert "ALL-like" in page.locator("section[data-label=blast] h2").inner_text()
    # Every crop loaded (a real JPEG from the station), at one size.
    wait_until(
        page, "() => [...document.querySelectorAll('img.crop')].every((i) => i.complete && i.naturalWidth)"
    )
    widths = page.evaluate(
        "() => [...document.querySelectorAll('img.crop')].map((i) => Math.max(i.naturalWidth, i.naturalHeight))"  # noqa: E501
    )
    assert widths == [128] * 5
    shoot(page, "cell-gallery", full_page=True)


def test_a_crop_is_the_boxed_region_of_the_stored_field(station):
    client = Client(station.url)
    for label, cells in cells_of(station).items():
        for cell in cells:
            status, headers, body, _ = client.get(f"/cell/{cell['id']}/crop")
            assert status == 200 and headers["content-type"] == "image/jpeg", label
            crop = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), np.float32)
            x0, y0, x1, y1 = cell["box"]
            assert max(crop.shape[:2]) == 128
            assert abs(crop.shape[1] / crop.shape[0] - (x1 - x0) / (y1 - y0)) < 0.05
            half = crop.shape[1] // 2
            # Red on the left, yellow on the right, to the edges: no grey of the field around it.
            left, right = crop[2:-2, 2 : half - 6], crop[2:-2, half + 6 : -2]
            assert np.abs(left - LEFT).max() < 60 and np.abs(right - RIGHT).max() < 60, label
            edge_columns = np.concatenate([crop[:, :2], crop[:, -2:]], axis=1)
            assert np.abs(edge_columns - GREY).sum(axis=-1).min() > 60, label
    assert client.get("/cell/999999/crop")[0] == 404


def test_a_cell_is_corrected_by_the_specialist_without_a_reload(page, station):
    page.goto(f"{station.url}/cells?id={SLIDE}")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("form.cell-review input[name=decision]:checked").count() == 0  # nothing chosen
    keys = page.locator("#review-keys").inner_text()
    for hint in ("1 neutrophil", "3 blast", "6 not a white cell", "0 not assessable"):
        assert hint in keys, (hint, keys)
    blast = cells_of(station)["blast"][0]
    card = page.locator(f"#gallery-cell-{blast['id']}")
    assert "the model said: blast 93%, all-like" in card.locator("legend").text_content()
    page.keyboard.press("j")  # the first cell: the ALL-like one, its review opened
    assert "current" in card.get_attribute("class")
    card.locator("input[name=reviewer]").fill("Dr Haddad")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # nothing chosen: it says so and saves nothing
    assert "Choose what you see" in page.locator("#review-status").inner_text()
    page.keyboard.press("1")  # neutrophil: the specialist corrects the model
    assert card.locator("input[value=neutrophil]").is_checked()
    page.keyboard.press("Enter")
    wait_until(page, "() => document.getElementById('review-status').textContent.startsWith('Saved')")
    assert "corrected to neutrophil by Dr Haddad" in card.locator(".reviews-shown").inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload
    with ResultsStore.open(station.db, create=False) as store:
        stored = store.cell_reviews(SLIDE)
        assert [(r["cell_id"], r["label"], r["reviewer"], r["model_label"]) for r in stored] == [
            (blast["id"], "neutrophil", "Dr Haddad", "blast"),
        ]  # fmt: skip
        assert store.cell(blast["id"])["label"] == "blast"  # the model's cell as it was recorded
    with sqlite3.connect(station.accounts) as connection:
        rows = connection.execute(
            "SELECT action, subject, detail FROM audit WHERE action = 'review cell'"
        ).fetchall()
    assert len(rows) == 1 and rows[0][1] == f"slide {SLIDE}" and "neutrophil" in rows[0][2], rows
    # Shown after a reload too, on the field (its box highlighted) and in the report.
    page.reload()
    assert "corrected to neutrophil" in page.locator(f"#gallery-cell-{blast['id']}").inner_text()
    page.locator(f"#gallery-cell-{blast['id']} a.box-link").click()
    page.wait_for_url(f"{station.url}/field?*")
    highlighted = page.locator("svg.cells-overlay g.cell-highlight")
    assert highlighted.count() == 1 and highlighted.get_attribute("id") == f"cell-{blast['id']}"
    assert highlighted.locator("text").inner_html() == "specialist: neutrophil"
    assert "specialist: neutrophil" in page.locator("#highlighted-cell").inner_text()
    shoot(page, "field-cell", full_page=True)
    page.goto(f"{station.url}/report?id={SLIDE}")
    reviewed = page.locator("#report-cell-reviews").inner_text()
    assert "Cell in field #1: neutrophil (model: blast 93%) by Dr Haddad" in reviewed
    figure = page.locator(".report-grid figure").nth(0)
    assert figure.locator("svg.cells-overlay g.cell-reviewed text").inner_html() == "specialist: neutrophil"


def test_a_cell_review_needs_a_choice_among_the_offered_and_a_csrf_token(station):
    client = Client(station.url)
    token = client.csrf(f"/cells?id={SLIDE}")
    smudge = cells_of(station)["smudge"][0]
    form = {"cell_id": str(smudge["id"]), "reviewer": "Mallory", "decision": "not a white cell"}
    assert client.post("/cell-review", form)[0] == 403  # no token
    assert client.post("/cell-review", {**form, "csrf_token": "forged-" + token[7:]})[0] == 403
    assert client.post("/cell-review", {**form, "csrf_token": token, "decision": ""})[0] == 400
    assert client.post("/cell-review", {**form, "csrf_token": token, "decision": "Pre"})[0] == 400
    assert client.post("/cell-review", {**form, "csrf_token": token, "cell_id": "999999"})[0] == 404
    with ResultsStore.open(station.db, create=False) as store:
        assert all(r["cell_id"] != smudge["id"] for r in store.cell_reviews(SLIDE))
    status, headers, _, _ = client.post("/cell-review", {**form, "csrf_token": token})
    assert status == 303 and headers["location"].endswith(f"#gallery-cell-{smudge['id']}")
    with ResultsStore.open(station.db, create=False) as store:
        assert store.cell(smudge["id"])["reviewed_label"] == "not a white cell"


def test_the_flagged_filter_reads_the_label_roles_and_the_report_draws_the_boxes(page, station):
    blast_field, neutrophil_field, smudge_field = station.ids
    page.goto(f"{station.url}/slide?id={SLIDE}&show=flagged")
    shown = [a.get_attribute("id") for a in page.locator("#fields article").all()]
    assert shown == [f"field-{blast_field}", f"field-{smudge_field}"]  # a neutrophil field is not flagged
    page.goto(f"{station.url}/slide?id={SLIDE}")  # and it reads as what it is: normal-looking
    assert (
        page.locator(f"#field-{neutrophil_field} .result").inner_text()
        == "#2 Normal-looking (neutrophil) 90%"
    )
    assert page.locator(f"#field-{blast_field} .result").inner_text() == "#1 ALL-like: blast 90%"
    page.goto(f"{station.url}/report?id={SLIDE}")
    figures = page.locator(".report-grid figure")
    assert figures.count() == 2
    for i, count in enumerate((2, 1)):
        assert figures.nth(i).locator("svg.cells-overlay rect").count() == count
    box = figures.nth(0).locator("svg.cells-overlay").bounding_box()
    picture = figures.nth(0).locator("img.thumb").bounding_box()
    assert box == picture  # laid exactly over the picture
    shoot(page, "report-cells", full_page=True)


def test_a_crop_is_clipped_to_the_picture_and_follows_a_reduced_decode():
    picture = Image.new("RGB", (100, 80), GREY)
    picture.paste(LEFT, (90, 70, 100, 80))  # the corner a box runs off
    crop = cell_crop(picture, (90, 70, 130, 120))
    assert crop.size == (128, 128) and crop.getpixel((64, 64)) == LEFT
    half = cell_crop(picture, (180, 140, 200, 160), reduction=2)  # a frame stored at 200x160
    assert half.size == (128, 128) and half.getpixel((64, 64)) == LEFT
    assert cell_crop(picture, (500, 500, 520, 520)).size == (128, 128)  # wholly outside: no crash
