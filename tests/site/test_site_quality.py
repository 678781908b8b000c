"""The quality gate relative to the site (edge_all.triage.site_limits): a field as sharp as the site's
commissioning fields passes; a blurred copy that the fixed limit lets through is rejected out_of_focus
when read with the site; the site never makes the gate looser than its configured limits."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from edge_all.site.profile import Baseline, QualityBaselines, read_profile
from edge_all.triage.site_limits import FOCUS_FRACTION, relative_limit, site_thresholds
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.smears import blurred, draw_field
from tests.cli_runner import run_edge_all
from tests.site.conftest import FIELD_SIZE, UM_PER_PX
from tests.site.test_site_classify import cell_site  # noqa: F401  (fixture)


def _baselines(focus: Baseline, glass: Baseline, stained: Baseline) -> QualityBaselines:
    return QualityBaselines(0.55, focus, glass, Baseline(200, 180, 220), stained)


def test_the_limit_is_a_fraction_of_the_sites_median_capped_by_its_5th_percentile_floored_by_the_gate():
    assert relative_limit(40, Baseline(300, 280, 320), 0.5) == 150  # half the median
    assert relative_limit(40, Baseline(300, 100, 320), 0.5) == 100  # the site's own p5 fields still pass
    assert relative_limit(40, Baseline(50, 30, 60), 0.5) == 40  # never looser than the configured limit
    limits = site_thresholds(
        QualityThresholds(),
        _baselines(Baseline(300, 280, 320), Baseline(240, 235, 245), Baseline(0.08, 0.07, 0.09)),
    )
    assert (
        limits.min_focus == 150
        and limits.min_brightness == 192
        and limits.min_stained == pytest.approx(0.016)
    )
    assert limits.max_brightness == QualityThresholds().max_brightness  # the sensor's, not the site's


def _classify(path, bundle, *site):
    done = run_edge_all("classify", path, "--model", bundle, "--json", *site)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[0])


def test_a_blurred_copy_is_rejected_out_of_focus_with_the_site_only(cell_site, cell_bundle, tmp_path):  # noqa: F811
    profile = read_profile(cell_site)
    limit = relative_limit(QualityThresholds().min_focus, profile.quality.focus, FOCUS_FRACTION)
    assert limit > QualityThresholds().min_focus  # the site's fields are much sharper than the floor
    sharp = draw_field(UM_PER_PX, size=FIELD_SIZE, white_cells=2, seed=77)
    Image.fromarray(sharp).save(tmp_path / "sharp.jpg", quality=92)
    Image.fromarray(blurred(sharp, 1.5)).save(tmp_path / "blurred.jpg", quality=92)
    site = ("--site", cell_site)
    assert not (_classify(tmp_path / "sharp.jpg", cell_bundle, *site)["reason"] or "").startswith(
        "out_of_focus"
    )
    without = _classify(tmp_path / "blurred.jpg", cell_bundle)  # the fixed limit (40) lets it through
    assert not (without["reason"] or "").startswith("out_of_focus")
    assert without["quality"]["focus"] > QualityThresholds().min_focus
    with_site = _classify(tmp_path / "blurred.jpg", cell_bundle, *site)
    assert with_site["status"] == "rejected"
    assert (
        with_site["reason"].startswith("out_of_focus: ") and f"< {round(limit, 3):g}" in with_site["reason"]
    )
