"""The site profile made from fields at a known scale: the scale within 10%, the baselines, the stain
reference; site.json read back as written, and refused when changed, of another format, or made
with another bundle."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from edge_all.site.profile import DIGEST_FILE, PROFILE_FILE, SiteError, load_site, read_profile, write_profile
from edge_all.triage.commissioning import commission, store_images
from edge_all.triage.thresholds import QualityThresholds
from tests.site.conftest import FIELDS, UM_PER_PX

BUNDLE_SHA = "ab" * 32


@pytest.fixture(scope="module")
def commissioned(fields, tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    stored = store_images(sorted(fields.iterdir()), site, lambda skipped: None)
    done = commission(stored, BUNDLE_SHA, QualityThresholds())
    write_profile(site, done.profile)
    return site, done


def test_the_scale_is_within_ten_percent_and_the_site_is_ready(commissioned):
    _, done = commissioned
    profile = done.profile
    assert abs(profile.scale.um_per_px - UM_PER_PX) / UM_PER_PX < 0.10
    assert profile.scale.images_measured == profile.scale.images_total == FIELDS
    assert profile.scale.spread < 0.10
    assert profile.verdict.ready and profile.verdict.reasons == ()
    assert len(profile.images) == FIELDS and all(len(i.sha256) == 64 for i in profile.images)


def test_the_baselines_are_measured_at_the_reference_scale(commissioned):
    _, done = commissioned
    q = done.profile.quality
    assert q.um_per_px == pytest.approx(0.55, rel=0.02)
    for b in (q.focus, q.glass, q.brightness, q.stained):
        assert b.p5 <= b.median <= b.p95
    assert q.focus.median > QualityThresholds().min_focus  # the drawn fields are sharp
    assert 200 < q.glass.median < 255 and q.stained.median > 0.01


def test_the_stain_reference_is_the_median_of_torchstains_fit(commissioned):
    from edge_all.cells.stain import lab_statistics

    _, done = commissioned
    stain = done.profile.stain
    assert (stain.method, stain.library, stain.images) == ("reinhard", "torchstain", FIELDS)
    one = lab_statistics(__import__("numpy").zeros((4, 4, 3), "uint8") + 200)
    assert one.stds == pytest.approx((0.0, 0.0, 0.0), abs=1e-3)  # a flat image has no spread
    assert 50 < stain.means[0] < 100 and all(s > 0 for s in stain.stds)


def test_the_profile_reads_back_as_written(commissioned):
    site, done = commissioned
    assert read_profile(site, BUNDLE_SHA) == done.profile
    assert load_site(site, BUNDLE_SHA).profile == done.profile


def test_a_changed_profile_is_refused(commissioned, tmp_path):
    site, done = commissioned
    for name in (PROFILE_FILE, DIGEST_FILE):
        (tmp_path / name).write_bytes((site / name).read_bytes())
    document = json.loads((tmp_path / PROFILE_FILE).read_text())
    document["scale"]["um_per_px"] = 0.5
    (tmp_path / PROFILE_FILE).write_text(json.dumps(document, indent=2) + "\n")
    with pytest.raises(SiteError, match="sha256 .* does not match site.json.sha256.*commission again"):
        read_profile(tmp_path)


def test_a_profile_made_with_another_bundle_is_refused(commissioned):
    site, _ = commissioned
    with pytest.raises(
        SiteError, match=r"made with another bundle .*commission again \(edge-all commission --again"
    ):
        read_profile(site, "cd" * 32)


def test_another_format_version_and_a_missing_digest_are_refused(commissioned, tmp_path):
    site, done = commissioned
    write_profile(tmp_path, replace(done.profile, format_version=3))
    with pytest.raises(SiteError, match="reads site profile formats 1 and 2, not 3"):
        read_profile(tmp_path)
    (tmp_path / DIGEST_FILE).unlink()
    with pytest.raises(SiteError, match="site.json.sha256"):
        read_profile(tmp_path)


def test_a_site_that_is_not_ready_is_not_used(commissioned, tmp_path):
    _, done = commissioned
    from edge_all.site.profile import Verdict

    write_profile(tmp_path, replace(done.profile, verdict=Verdict(False, ("fields are too dark",))))
    assert read_profile(tmp_path).verdict.ready is False
    with pytest.raises(SiteError, match="not ready \\(fields are too dark\\)"):
        load_site(tmp_path, BUNDLE_SHA)
