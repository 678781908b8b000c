"""The commissioning report in a real browser (Debian's chromium, through Playwright): the verdict and
the four histograms show, nothing is fetched from anywhere, and it prints to PDF."""

from __future__ import annotations

import pytest

from edge_all.site.profile import REPORT_FILE
from tests.cli_runner import run_edge_all
from tests.station.conftest import browser  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def report(fields, tmp_path_factory):
    site = tmp_path_factory.mktemp("browser-site") / "clinic"
    done = run_edge_all("commission", fields, "--out", site)
    assert done.returncode == 0, done.stdout + done.stderr
    return site / REPORT_FILE


def test_the_report_shows_its_verdict_and_charts_and_prints(browser, report):  # noqa: F811
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(report.as_uri())
    assert page.locator("#verdict").inner_text().startswith("Ready")
    charts = page.locator("svg")
    assert charts.count() == 4
    for i in range(4):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 100
    assert page.locator("#fields tr").count() == 1 + 30
    # self-contained: nothing is loaded but the page (its pictures are data: URIs inside it)
    assert [url for url in requests if not url.startswith("data:")] == [report.as_uri()]
    assert page.locator("#before").evaluate("img => img.naturalWidth") > 0
    page.emulate_media(media="print")
    assert page.pdf(format="A4").startswith(b"%PDF")
    page.close()
