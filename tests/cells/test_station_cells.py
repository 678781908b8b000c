"""The station's slide page draws each white cell's box and label over its field (a real capture with a
format-3 cell bundle, then a real `edge-all serve` and an HTTP client), and shows the cell counts."""

from __future__ import annotations

import re

from PIL import Image

from edge_all.station.passwords import hash_password, write_password_file
from tests.cells.fields import synthetic_field
from tests.cli_runner import run_edge_all
from tests.station.helpers import STOPPED_CLEANLY, Client, start_station

PASSWORD = "correct horse battery"


def test_the_slide_page_draws_every_cells_box_and_label(tmp_path, cell_bundle):
    drop, tmp = tmp_path / "drop", tmp_path / "station"
    drop.mkdir()
    tmp.mkdir()
    smear = synthetic_field(30, um_per_px=0.25, white_cells=3, lobed=False, size_um=(80.0, 110.0))
    Image.fromarray(smear.rgb).save(drop / "field.png")
    done = run_edge_all(
        "capture-and-classify", "--model", cell_bundle, "--camera", f"folder:{drop}", "--settle", "0",
        "--db", tmp / "results.db", "--save-frames", tmp / "frames", "--count", "1", "--duration", "120",
        "--um-per-px", "0.25", "--sample-id", "CELLS-1", "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    write_password_file(tmp / "station-password.json", hash_password(PASSWORD))
    station = start_station(tmp, cell_bundle, "video:/nonexistent.avi")
    try:
        client = Client(station.url)
        status, _, _, _ = client.post("/login", {"csrf_token": client.csrf("/login"), "password": PASSWORD})
        assert status == 303
        status, _, body, _ = client.get("/slide?id=CELLS-1")
        page = body.decode()
        assert status == 200
        height, width = smear.rgb.shape[:2]
        assert f'viewBox="0 0 {width} {height}"' in page
        boxes = [
            tuple(map(int, m))
            for m in re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"', page)
        ]
        assert len(boxes) == len(smear.white_cells)
        for x, y, _ in smear.white_cells:
            assert any(x0 <= x <= x0 + w and y0 <= y <= y0 + h for x0, y0, w, h in boxes)
        assert page.count('class="cell cell-all-like"') == 3 and page.count(">blue</text>") == 3
        assert "3 white cells in 1 fields: 3 ALL-like" in page
    finally:
        assert station.stop() in STOPPED_CLEANLY, station.output()
