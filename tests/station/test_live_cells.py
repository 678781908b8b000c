"""The live view draws each white cell's box and label on the field as it arrives (real `edge-all serve`
capturing from a folder through a real format-3 cell bundle, real chromium): the same drawing as the
slide page's, served as a picture laid over the live field."""

from __future__ import annotations

import pytest
from PIL import Image

from edge_all.results.store import ResultsStore
from tests.cells.conftest import INPUT_PX, cells_bundle
from tests.cells.fields import synthetic_field
from tests.runtime.conftest import _convert, _keras_model

from .browser import shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, start_station

SLIDE = "LIVE-CELLS-1"


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live-cells")
    model = tmp / "colour.tflite"
    model.write_bytes(_convert(_keras_model(softmax=True, height=INPUT_PX, width=INPUT_PX), None))
    bundle = cells_bundle(model, tmp / "bundle")
    drop = tmp / "drop"
    drop.mkdir()
    # At the bundle's own scale, so the red cells give the scale the station is not told.
    smear = synthetic_field(30, um_per_px=0.55, white_cells=3, lobed=False)
    Image.fromarray(smear.rgb).save(drop / "field.png")
    server = start_station(tmp / "station", bundle, f"folder:{drop}", "--interval", "0.2")
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def test_the_live_view_draws_the_boxes_of_the_field_just_taken(page, station):
    page.goto(station.url + "/new")
    page.fill("#sample-id", SLIDE)
    page.fill("#count", "1")
    page.click("#start")
    wait_until(page, "() => document.getElementById('live-state').textContent === 'finished'", timeout=60)
    with ResultsStore.open(station.db, create=False) as store:
        (field,) = store.captures(sample_id=SLIDE)
        cells = store.cells(field["id"])
    assert cells, f"no white cells found: {field['status']} {field['reason']}"
    overlay = page.locator("#live-cells")
    wait_until(
        page,
        "() => { const i = document.getElementById('live-cells'); "
        "return !i.hidden && i.complete && i.naturalWidth > 0; }",
    )
    assert overlay.get_attribute("src") == f"/field/{field['id']}/cells.svg"
    assert overlay.bounding_box() == page.locator("#live-thumb").bounding_box()  # laid over the field
    status, headers, body, _ = Client(station.url).get(f"/field/{field['id']}/cells.svg")
    svg = body.decode()
    assert status == 200 and headers["content-type"].startswith("image/svg+xml")
    assert svg.count("<rect ") == len(cells) and all(f">{cell['label']}</text>" in svg for cell in cells)
    page.locator("#live-thumb").scroll_into_view_if_needed()
    shoot(page, "live-cells")
    page.click("#live-slide-link")  # the slide page draws the same boxes over the same field
    page.wait_for_url(f"{station.url}/slide?id={SLIDE}")
    assert page.locator(f"#field-{field['id']} svg.cells-overlay rect").count() == len(cells)
    page.locator("#fields").scroll_into_view_if_needed()
    shoot(page, "slide-cells")
