"""The results database deleted (or replaced) while a capture writes to it: every later frame went
into a file nobody could see, and the capture ended with exit 0. Now the next commit notices, the
open database (every frame so far, the last one included) is copied to a file beside it, and the
capture stops with one error line and exit 1."""

from __future__ import annotations

import time

from edge_all.results.store import ResultsStore

from .conftest import save_png


def test_a_database_deleted_under_a_running_capture_is_rescued_and_the_capture_stops(
    tmp_path, int8_bundle, smears, running
):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    save_png(folder / "field-0.png", smears[0])
    save_png(folder / "field-1.png", smears[1])
    capture = running(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{folder}", "--settle", "0",
        "--db", db, "--sample-id", "S1", "--count", "3", "--duration", "120",
    )  # fmt: skip
    capture.wait_for_lines(2)
    db.unlink()  # someone tidies up the card while the capture runs
    time.sleep(0.2)
    save_png(folder / "field-2.png", smears[2])
    code, out, err = capture.finish()
    assert code == 1, (out, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: {db}: the results database was deleted while in use; every frame"), last
    (rescued,) = tmp_path.glob("results.rescued-*.db")
    assert f"saved to {rescued}; stopped" in last
    with ResultsStore.open(rescued, create=False) as store:
        names = [row["origin"].rsplit("/", 1)[1] for row in store.captures()]
        assert store.sample("S1")["fields"] == 3
    assert names == ["field-0.png", "field-1.png", "field-2.png"]  # nothing captured was lost
    assert not db.exists()  # never recreated behind the user's back
