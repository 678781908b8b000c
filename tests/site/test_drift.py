"""The drift warning (edge_all.triage.drift): a field read with a site that does not look like its
commissioning fields (another scale, another stain, focus far outside theirs) gets a warning recorded
with its result and shown on capture-and-classify's line; a field of the same smear gets none."""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge_all.cells.scale import ScaleEstimate
from edge_all.results.store import ResultsStore
from edge_all.site.profile import read_profile
from edge_all.triage.drift import DRIFT_TEXT, drift_of
from edge_all.triage.quality import measure
from tests.cells.smears import draw_field
from tests.cli_runner import run_edge_all
from tests.site.conftest import FIELD_SIZE, UM_PER_PX
from tests.site.test_site_classify import cell_site  # noqa: F401  (fixture)


def _restained(rgb: np.ndarray) -> np.ndarray:
    """The same smear with less eosin and more blue: another stain batch."""
    out = rgb.astype(float)
    out[..., 0] *= 0.8
    out[..., 2] = np.minimum(255, out[..., 2] * 1.1)
    return out.astype(np.uint8)


def _drift(rgb, profile):
    scale = ScaleEstimate.given(profile.scale.um_per_px, source="site")
    return drift_of(rgb, scale, measure(rgb, profile.scale.um_per_px), profile)


def test_a_field_of_the_same_smear_has_no_drift(cell_site):  # noqa: F811
    profile = read_profile(cell_site)
    for seed in (50, 51, 52):
        assert (
            _drift(draw_field(UM_PER_PX, size=FIELD_SIZE, white_cells=seed % 3, seed=seed), profile) is None
        )


def test_another_scale_another_stain_and_other_focus_are_each_named(cell_site):  # noqa: F811
    profile = read_profile(cell_site)
    other_objective = _drift(draw_field(0.2, size=(320, 240), seed=31), profile)  # enough red cells
    assert other_objective.startswith(f"{DRIFT_TEXT}: scale 0.2") and "> 35%" in other_objective
    restained = _drift(_restained(draw_field(UM_PER_PX, size=FIELD_SIZE, seed=61)), profile)
    assert (
        restained.startswith(f"{DRIFT_TEXT}: stain ") and "LAB units from the site's reference" in restained
    )
    assert "scale" not in restained
    noisy = draw_field(UM_PER_PX, size=FIELD_SIZE, seed=62).astype(float)
    noisy += np.random.default_rng(0).normal(0, 40, noisy.shape)
    assert "focus " in _drift(np.clip(noisy, 0, 255).astype(np.uint8), profile)


def test_capture_records_the_warning_and_its_line_shows_it(cell_site, cell_bundle, tmp_path):  # noqa: F811
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(draw_field(UM_PER_PX, size=FIELD_SIZE, white_cells=2, seed=70)).save(folder / "a.png")
    restained = _restained(draw_field(UM_PER_PX, size=FIELD_SIZE, white_cells=2, seed=71))
    Image.fromarray(restained).save(folder / "b.png")
    db = tmp_path / "results.db"
    done = run_edge_all(
        "capture-and-classify", "--camera", f"folder:{folder}", "--model", cell_bundle, "--count", "2",
        "--db", db, "--site", cell_site, "--settle", "0", "--duration", "120",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stdout.splitlines() if line.strip().startswith("warning: ")]
    assert len(warnings) == 1 and f"warning: {DRIFT_TEXT}: stain" in warnings[0]
    with ResultsStore.open(db, create=False) as store:
        rows = {row["origin"].rsplit("/", 1)[-1]: row for row in store.captures()}
    assert rows["a.png"]["drift"] is None
    assert rows["b.png"]["drift"].startswith(f"{DRIFT_TEXT}: stain")
