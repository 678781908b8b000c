"""capture-and-classify with a format-3 cell bundle: every field's white cells stored in the cells table
(boxes in the frame's pixels), the sample counting fields with ALL-like cells and its cell counts."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from edge_all.results.store import ResultsStore
from tests.cells.fields import synthetic_field
from tests.cli_runner import run_edge_all

UM_PER_PX = 0.25


def test_a_capture_records_each_fields_cells_and_the_slide_counts_them(tmp_path, cell_bundle):
    folder, db = tmp_path / "drop", tmp_path / "r.db"
    folder.mkdir()
    smears = {}
    for i, k in enumerate((2, 3, 0)):
        smears[f"field-{i}.png"] = synthetic_field(
            20 + i, um_per_px=UM_PER_PX, white_cells=k, lobed=False, size_um=(80.0, 110.0)
        )
        Image.fromarray(smears[f"field-{i}.png"].rgb).save(folder / f"field-{i}.png")
    done = run_edge_all(
        "capture-and-classify", "--model", cell_bundle, "--camera", f"folder:{folder}", "--settle", "0",
        "--db", db, "--count", "3", "--duration", "120", "--um-per-px", UM_PER_PX, "--sample-id", "S1",
        "--no-quality-gate",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [line for line in (done.stdout + done.stderr).splitlines() if line.strip().startswith("cell [")]
    assert len(printed) == 5 and all(" blue " in line and "all-like" in line for line in printed)
    with ResultsStore.open(db, create=False) as store:
        rows = {Path(row["origin"]).name: row for row in store.captures()}
        for name, smear in smears.items():
            cells = store.cells(rows[name]["id"])
            assert len(cells) == len(smear.white_cells), name
            for x, y, _ in smear.white_cells:
                assert any(c["box"][0] <= x <= c["box"][2] and c["box"][1] <= y <= c["box"][3] for c in cells)
            assert all(c["label"] == "blue" and c["status"] == "all-like" for c in cells)
        assert rows["field-2.png"]["status"] == "rejected"
        assert rows["field-2.png"]["reason"].startswith("no_white_cell")
        sample = store.sample("S1")
        assert sample["all_like"] == 2 and sample["fields_with_cells"] == 2 and sample["cells_all_like"] == 5
        (summary,) = store.summaries("S1")
        assert summary.cells.cells_all_like == 5 and summary.to_dict()["cells"]["cells_all_like"] == 5
        assert "5 white cells in 2 fields: 5 ALL-like" in summary.describe()
        assert sample["verdict"] == "refer"
