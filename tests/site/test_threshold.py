"""The site's unfamiliarity threshold: the rule (never above the bundle's, never above what keeps 95% of
the site-looking blasts flagged), the blasts made to look like a site, and commissioning with a cell
bundle that carries blasts (and one that does not)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage as ndi

from edge_all.cells.stain import LabStatistics, lab_statistics
from edge_all.digest import sha256_file
from edge_all.jsonfile import JsonObject
from edge_all.runtime.bundle import BLASTS_FILE, read_manifest, write_manifest
from edge_all.runtime.classifier import Prediction
from edge_all.site.profile import NOT_CHECKED_OLD, SiteError, SiteProfile
from edge_all.site.threshold import MIN_FLAGGED, flagged_share, largest_keeping, site_threshold
from edge_all.triage.blasts import BlastsError, HomeBlasts, look_like_site, noise_level
from edge_all.triage.cells import CellStatus, cell_status
from edge_all.triage.quality import laplacian_variance, luma
from tests.cells.conftest import CROP_PX
from tests.cli_runner import run_edge_all

# --- the rule -------------------------------------------------------------------------------------


def test_blasts_flagged_whatever_the_threshold_leave_the_bundles_threshold():
    always = np.ones(100, bool)
    assert largest_keeping(always, np.zeros(100)) == np.inf
    assert site_threshold(always, np.zeros(100)) == (1.0, None)


def test_the_threshold_is_never_raised_above_the_bundles():
    always = np.array([True] * 90 + [False] * 10)
    scores = np.array([0.0] * 90 + [3.0, 2.0, 1.5, 1.2, 1.1, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert largest_keeping(always, scores) == pytest.approx(1.1)  # 95 flagged up to 1.1
    threshold, reason = site_threshold(always, scores)
    assert threshold == 1.0 and reason is None  # not loosened to 1.1
    assert flagged_share(always, scores, threshold) == pytest.approx(0.95)


def test_when_the_bundles_threshold_keeps_too_few_the_site_is_not_ready():
    always = np.array([True] * 90 + [False] * 10)
    scores = np.array([0.0] * 90 + [1.5, 1.2, 1.1, 0.9, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1])
    threshold, reason = site_threshold(always, scores)
    assert threshold == pytest.approx(0.8)  # what would keep 95%: lowered, recorded
    assert "cannot keep this site's blasts flagged (93.0% of 100" in reason
    assert "refer every slide until a specialist checks" in reason


def test_without_a_detector_only_the_models_answers_count():
    assert site_threshold(np.array([True] * 96 + [False] * 4), None) == (1.0, None)
    threshold, reason = site_threshold(np.array([True] * 90 + [False] * 10), None)
    assert threshold == 0.0 and "90.0% of 100" in reason


def test_the_rule_holds_on_random_blasts():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 200))
        always = rng.random(n) < rng.random()
        scores = rng.gamma(2.0, rng.uniform(0.1, 1.0), n)
        threshold, reason = site_threshold(always, scores)
        assert threshold <= 1.0
        assert (reason is None) == (flagged_share(always, scores, 1.0) >= MIN_FLAGGED)
        if threshold > 0:  # the threshold chosen keeps 95% flagged
            assert flagged_share(always, scores, threshold) >= MIN_FLAGGED


def test_a_cell_is_referred_at_the_sites_lower_threshold():
    prediction = Prediction(
        "red", 0, 0.99, np.array([0.99, 0.005, 0.005], np.float32), 1.0, unfamiliarity=0.7
    )
    assert cell_status(prediction, "not_all_like", 0.5) == (CellStatus.CLEARED, None)
    status, reason = cell_status(prediction, "not_all_like", 0.5, refer_above=0.6)
    assert status is CellStatus.REFERRED and "unfamiliarity 0.70, refer above 0.60" in reason


# --- blasts made to look like a site ----------------------------------------------------------------


def _textured(count: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndi.gaussian_filter(rng.normal(0, 40, (count, 48, 48, 3)), (0, 1.2, 1.2, 0))
    return np.clip(base + np.array([180.0, 120.0, 170.0]), 0, 255).astype(np.uint8)


def test_noise_level_reads_added_noise():
    rng = np.random.default_rng(1)
    flat = np.clip(128 + rng.normal(0, 5, (200, 200, 1)).repeat(3, axis=2), 0, 255).astype(np.uint8)
    assert noise_level(flat) == pytest.approx(5.0, rel=0.15)
    assert noise_level(np.full((50, 50, 3), 128, np.uint8)) == 0.0


def test_blasts_are_given_the_sites_stain_blur_and_noise():
    crops = _textured()
    home = lab_statistics(np.concatenate(crops))
    site = LabStatistics((home.means[0] - 15, home.means[1] + 8, home.means[2] - 6), home.stds)
    focus = float(np.mean([laplacian_variance(luma(c)) for c in crops]))
    blasts = HomeBlasts(crops, home, focus, 1.0)
    stained, look = look_like_site(blasts, site, focus * 2, 1.0)  # a sharper site: no sharpening
    assert look.blur_sigma == 0.0 and look.noise_sigma == 0.0
    assert lab_statistics(np.concatenate(stained)).means[0] == pytest.approx(site.means[0], abs=2.0)
    soft, look = look_like_site(blasts, home, focus / 2, 5.0)
    assert look.blur_sigma > 0 and look.noise_sigma == pytest.approx(np.sqrt(24), abs=1e-3)
    blurred, _ = look_like_site(blasts, home, focus / 2, 1.0)
    after = float(np.mean([laplacian_variance(luma(c)) for c in blurred]))
    assert after == pytest.approx(focus / 2, rel=0.15)
    assert soft.shape == crops.shape and soft.dtype == np.uint8


def test_a_damaged_blasts_file_is_refused(tmp_path):
    path = tmp_path / "blasts.npz"
    np.savez(path, crops=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(BlastsError, match="not a blasts file"):
        HomeBlasts.load(path)
    np.savez(path, crops=np.zeros((2, 8, 8, 3), np.float32), lab_means=np.zeros(3), lab_stds=np.ones(3),
             focus=1.0, noise=0.0)  # fmt: skip
    with pytest.raises(BlastsError, match="uint8"):
        HomeBlasts.load(path)


# --- commissioning with a cell bundle ----------------------------------------------------------------


def _with_blasts(cell_bundle, out, colour):
    """A copy of the tests' cell bundle carrying flat crops of one colour as its "blasts"."""
    shutil.copytree(cell_bundle, out)
    crops = np.zeros((40, CROP_PX, CROP_PX, 3), np.uint8) + np.array(colour, np.uint8)
    HomeBlasts(crops, LabStatistics((60.0, 10.0, -10.0), (10.0, 8.0, 8.0)), 100.0, 1.0).save(
        out / BLASTS_FILE
    )
    write_manifest(out, replace(read_manifest(out), blasts_sha256=sha256_file(out / BLASTS_FILE)))
    return out


def _profile(site) -> dict:
    return json.loads((site / "site.json").read_text(encoding="utf-8"))


def test_blasts_kept_flagged_make_a_checked_ready_site(fields, cell_bundle, tmp_path):
    bundle = _with_blasts(cell_bundle, tmp_path / "bundle", (60, 60, 200))  # blue: ALL-like
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--model", bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    check = _profile(tmp_path / "site")["threshold"]
    assert check["checked"] is True and check["blasts"] == 40
    assert check["blasts_flagged"] == 1.0 and check["threshold"] == 1.0
    assert check["normal_cells"] > 0
    assert "100.0% of 40 home-lab blasts made to look like this site flagged" in done.stdout
    assert "Unfamiliarity threshold" in (tmp_path / "site" / "report.html").read_text(encoding="utf-8")


def test_blasts_the_model_clears_make_the_site_not_ready(fields, cell_bundle, tmp_path):
    bundle = _with_blasts(cell_bundle, tmp_path / "bundle", (200, 60, 60))  # red: cleared
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--model", bundle)
    assert done.returncode == 1 and "NOT READY" in done.stdout
    assert "the model cannot keep this site's blasts flagged (0.0% of 40" in done.stdout
    assert _profile(tmp_path / "site")["threshold"]["blasts_flagged_at_bundle"] == 0.0


def test_a_bundle_without_blasts_says_not_checked(fields, cell_bundle, tmp_path):
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--model", cell_bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not checked (the bundle carries no blasts)" in done.stdout
    check = _profile(tmp_path / "site")["threshold"]
    assert check["checked"] is False and check["threshold"] == 1.0
    assert check["note"] == "not checked (the bundle carries no blasts)"


def test_changed_blasts_are_refused_like_a_changed_model(fields, cell_bundle, tmp_path):
    bundle = _with_blasts(cell_bundle, tmp_path / "bundle", (60, 60, 200))
    with (bundle / BLASTS_FILE).open("ab") as handle:
        handle.write(b"x")
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--model", bundle)
    assert done.returncode != 0 and "blasts.npz: sha256" in done.stderr
    assert not (tmp_path / "site" / "site.json").exists()


def test_a_format_1_profile_still_loads_not_checked(written_v1):
    profile = SiteProfile.from_dict(JsonObject(written_v1, "site.json", SiteError))
    assert profile.threshold.checked is False and profile.threshold.note == NOT_CHECKED_OLD
    assert profile.threshold.threshold == 1.0


def test_a_site_threshold_above_the_bundles_is_refused(written_v1):
    document = dict(written_v1, format_version=2)
    document["threshold"] = {"threshold": 1.5, "bundle_threshold": 1.0, "checked": True, "note": None,
                             "blasts": 10, "normal_cells": 0, "blasts_flagged": None,
                             "blasts_flagged_at_bundle": None, "blur_sigma_px": None, "noise_sigma": None,
                             "normal_cleared": None, "normal_referred": None,
                             "normal_all_like": None}  # fmt: skip
    with pytest.raises(SiteError, match="above the bundle's 1: a site never loosens it"):
        SiteProfile.from_dict(JsonObject(document, "site.json", SiteError))


@pytest.fixture(scope="module")
def written_v1(fields, tmp_path_factory) -> dict:
    from edge_all.site.profile import write_profile
    from edge_all.triage.commissioning import commission, store_images
    from edge_all.triage.thresholds import QualityThresholds

    site = tmp_path_factory.mktemp("v1-site")
    done = commission(store_images(sorted(fields.iterdir()), site, print), "ab" * 32, QualityThresholds())
    write_profile(site, done.profile)
    document = _profile(site)
    document["format_version"] = 1
    del document["threshold"]
    return document


def test_the_stations_commissioning_checks_the_threshold_with_its_bundle(fields, cell_bundle, tmp_path):
    from edge_all.runtime.choice import ModelChoice
    from edge_all.station.site import StationSite
    from edge_all.triage.thresholds import QualityThresholds

    bundle = _with_blasts(cell_bundle, tmp_path / "bundle", (60, 60, 200))  # blue: ALL-like
    station = StationSite(tmp_path / "site", ModelChoice(model=bundle))
    station.commission(sorted(p for p in fields.iterdir() if p.is_file()), QualityThresholds())
    check = _profile(tmp_path / "site")["threshold"]
    assert check["checked"] is True and check["blasts"] == 40 and check["blasts_flagged"] == 1.0
