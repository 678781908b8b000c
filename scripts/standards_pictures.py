"""The pictures of docs/standards.md: a signed-off slide sent to a real Orthanc and opened in Orthanc
Explorer (Debian's chromium through Playwright), and the same slide's FHIR report as JSON.

Usage: python scripts/standards_pictures.py   (writes docs/img/standards-*.png, docs/standards-report.json)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import create_engine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_all.standards.delivery_sql import SqlDeliveryStore  # noqa: E402
from edge_all.standards.endpoints import Endpoint  # noqa: E402
from edge_all.standards.fhir_report import fhir_report, report_json  # noqa: E402
from edge_all.standards.outbox import queue_slide, send_due  # noqa: E402
from edge_all.standards.pacs import StowSender  # noqa: E402
from tests.servers.standards import start_orthanc, stop  # noqa: E402
from tests.standards.helpers import START, UIDS, make_slide  # noqa: E402

IMG = REPO / "docs" / "img"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def main() -> None:
    slide = make_slide(
        6, (640, 480), as_jpeg=True, stage=True, sample_id="S-2026-0311", record_id="slide-docs"
    )
    (REPO / "docs" / "standards-report.json").write_bytes(report_json(fhir_report(slide, UIDS)) + b"\n")
    with tempfile.TemporaryDirectory() as folder:
        orthanc = start_orthanc(Path(folder))
        try:
            store = SqlDeliveryStore(create_engine("sqlite://"))
            queue_slide(store, slide, UIDS, START, fhir=False)
            attempts = send_due(store, StowSender(Endpoint(orthanc.dicomweb, *orthanc.auth)), START)
            print([f"{a.delivery.description}: {a.outcome.state.value}" for a in attempts])
            study = orthanc.rest("/studies")[0]
            series = orthanc.rest(f"/studies/{study}/series")
            images = next(s for s in series if s["MainDicomTags"]["Modality"] != "SR")
            sr = next(s for s in series if s["MainDicomTags"]["Modality"] == "SR")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
                page = browser.new_page(
                    viewport={"width": 1200, "height": 900},
                    http_credentials={"username": orthanc.auth[0], "password": orthanc.auth[1]},
                )
                explorer = f"{orthanc.http}/app/explorer.html"
                for name, anchor in (
                    ("study", f"#study?uuid={study}"),
                    ("series", f"#series?uuid={images['ID']}"),
                    ("sr", f"#instance?uuid={sr['Instances'][0]}"),
                ):
                    page.goto(explorer + anchor)
                    page.wait_for_load_state("networkidle")
                    page.wait_for_timeout(800)
                    if name == "sr":  # down to the sign-off: COMPLETE, VERIFIED, FINAL
                        page.get_by_text("CompletionFlag", exact=True).first.scroll_into_view_if_needed()
                        page.evaluate("window.scrollBy(0, 380)")
                        page.wait_for_timeout(300)
                    page.screenshot(path=str(IMG / f"standards-orthanc-{name}.png"), full_page=name != "sr")
                page.goto(f"{orthanc.http}/instances/{images['Instances'][0]}/preview")
                page.wait_for_timeout(500)
                page.screenshot(path=str(IMG / "standards-orthanc-preview.png"))
                browser.close()
        finally:
            stop(orthanc.process)


if __name__ == "__main__":
    main()
