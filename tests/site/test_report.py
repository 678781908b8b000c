"""The commissioning report, SITE_DIR/report.html: self-contained (no script, no link to a file beside
it), with the numbers the profile holds, a histogram per measure, the thresholds and the verdict."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from edge_all.site.profile import REPORT_FILE, read_profile
from tests.cli_runner import run_edge_all


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def report(fields, tmp_path_factory):
    site = tmp_path_factory.mktemp("report-site") / "clinic"
    done = run_edge_all("commission", fields, "--out", site, "--stated-um-per-px", 0.31)
    assert done.returncode == 0, done.stdout + done.stderr
    return site, (site / REPORT_FILE).read_text(encoding="utf-8")


def test_the_report_holds_the_profiles_numbers_and_the_verdict(report):
    site, html = report
    profile = read_profile(site)
    assert "Ready: this site" in html and "Not ready" not in html
    assert f"{profile.scale.um_per_px:.4f} um per pixel" in html
    assert "0.3100 um per pixel" in html  # the stated scale
    assert f"{profile.quality.focus.median:.4g}" in html and "at least 40" in html
    for v in profile.stain.means:
        assert f"{v:.2f}" in html
    for image in profile.images:
        assert image.name in html and image.sha256[:12] in html


def test_the_report_draws_a_histogram_per_measure_and_needs_no_other_file(report):
    _, html = report
    parts = _Parts()
    parts.feed(html)
    tags = [t for t, _ in parts.tags]
    assert tags.count("svg") == 4
    assert "script" not in tags and "link" not in tags
    assert all(a["src"].startswith("data:image/png;base64,") for t, a in parts.tags if t == "img")
    bars = [a for t, a in parts.tags if t == "rect"]
    assert len(bars) == 4 * 16 and all(float(a["height"]) >= 0 for a in bars)
    assert re.search(r"gate&#39;s limit 40|gate's limit 40", html)
    assert "@media print" in html


def test_a_site_not_ready_says_what_to_fix(tmp_path):
    from tests.site.conftest import write_fields

    done = run_edge_all("commission", write_fields(tmp_path / "few", count=10), "--out", tmp_path / "s")
    assert done.returncode == 1
    html = (tmp_path / "s" / REPORT_FILE).read_text(encoding="utf-8")
    assert "Not ready. What to fix:" in html and "too few images: 10 read" in html


def test_the_colour_before_and_after_the_sites_normalisation(fields, colour_models, tmp_path):
    from tests.cells.conftest import cells_bundle
    from tests.site.test_site_classify import TARGET

    stained = cells_bundle(colour_models["float32"], tmp_path / "stained", stain=TARGET)
    done = run_edge_all("commission", fields, "--out", tmp_path / "s", "--model", stained)
    assert done.returncode == 0, done.stdout + done.stderr
    parts = _Parts()
    parts.feed((tmp_path / "s" / REPORT_FILE).read_text(encoding="utf-8"))
    images = {a["id"]: a["src"] for t, a in parts.tags if t == "img" and "id" in a}
    assert set(images) == {"before", "after"} and images["before"] != images["after"]


def test_a_bundle_that_does_not_normalise_shows_only_the_field(report):
    _, html = report
    assert 'id="before"' in html and 'id="after"' not in html
    assert "this bundle does not normalise the stain" in html


def test_the_cells_found_are_shown_by_class_as_the_threshold_check_read_them(fields, cell_bundle, tmp_path):
    from tests.site.test_threshold import _with_blasts

    bundle = _with_blasts(cell_bundle, tmp_path / "bundle", (60, 60, 200))
    done = run_edge_all("commission", fields, "--out", tmp_path / "s", "--model", bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "s" / REPORT_FILE).read_text(encoding="utf-8")
    parts = _Parts()
    parts.feed(html)
    groups = [a for t, a in parts.tags if t == "h3" and "cell-class" in a.get("class", "")]
    assert groups, "no gallery"
    check = read_profile(tmp_path / "s").threshold
    counts = {g["data-label"]: int(g["data-count"]) for g in groups}
    assert (
        sum(counts.values()) >= check.normal_cells > 0
    )  # every counted cell (dropped ones too) shown by class
    cells = [a for t, a in parts.tags if t == "img" and a.get("class") == "cell"]
    assert len(cells) == sum(min(c, 12) for c in counts.values())
    assert all(a["src"].startswith("data:image/png;base64,") for a in cells)
    tags = [t for t, _ in parts.tags]
    assert "script" not in tags and "link" not in tags and "http://" not in html and "https://" not in html


def test_the_before_and_after_table_counts_every_field(fields, cell_bundle, tmp_path):
    done = run_edge_all("commission", fields, "--out", tmp_path / "s", "--model", cell_bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "s" / REPORT_FILE).read_text(encoding="utf-8")
    table = html[html.index('id="before-after"') : html.index("</table>", html.index('id="before-after"'))]
    rows = re.findall(r"<tr><th>(before|after)</th>(.*?)</tr>", table, re.S)
    assert [name for name, _ in rows] == ["before", "after"]
    used = len(read_profile(tmp_path / "s").images)
    for _, row in rows:
        counts = [int(n) for n in re.findall(r'data-column="[^"]+">(\d+) ', row)]
        assert len(counts) == 4 and sum(counts) == used
