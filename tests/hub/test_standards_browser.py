"""Issue 25 through the hub, in a real chromium against real servers: a specialist signs a slide off,
the hub's worker sends its DICOM instances to a real Orthanc (STOW-RS, checked by QIDO-RS) and its
FHIR report to Medplum's FHIR engine (conditional update), and the slide page shows 'sent' for each;
the DICOM and FHIR downloads; a PACS that is down is retried when it is back, and sent once; a cell
model's slide: its boxes on the page, its scale and cells in Orthanc as the clinic recorded them, and a
second sign-off amending the report and adding an SR.

(FHIR here is Medplum's FHIR engine behind a small HTTP shim, not a production FHIR server:
tests/servers/standards.py and docs/standards.md.)"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import highdicom as hd
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread

from edge_all.accounts import audit
from edge_all.accounts.database import open_engine
from edge_all.standards import dciodvfy
from edge_all.standards.dicom_slide import part10
from edge_all.standards.fhir_report import DISCLAIMER
from tests.servers.hub import PASSWORD, enrol_code, prepare, start_hub
from tests.servers.standards import fhir_engine, orthanc  # noqa: F401, F811 - the shared real servers
from tests.station.conftest import browser  # noqa: F401 - the shared chromium fixture

from .conftest import edge_all, record_cell_slide, record_slide, sync

FIELDS = 4
CELLS = "KSM-CELLS"  # a cell model's slide: two fields, boxes, a site scale on the first
SHOTS = os.environ.get("EDGE_ALL_HUB_SCREENSHOTS")  # a folder: save the picture in docs/hub.md


@pytest.fixture(scope="module")
def world(tmp_path_factory, orthanc, fhir_engine):  # noqa: F811
    tmp = tmp_path_factory.mktemp("standards-world")
    database = f"sqlite:///{tmp / 'hub.db'}"
    prepare(database, {"kisumu-1": "Kisumu clinic"}, [("ada", "specialist", ("kisumu-1",))])
    settings = tmp / "standards.json"
    settings.write_text(json.dumps({
        "pacs": {"url": orthanc.dicomweb, "username": orthanc.auth[0], "password": orthanc.auth[1],
                 "timeout_s": 10},
        "fhir": {"url": fhir_engine.base, "timeout_s": 10},
        "outbox": {"interval_s": 0.5, "backoff_first_s": 1, "backoff_most_s": 2},
    }))  # fmt: skip
    settings.chmod(0o600)
    hub = start_hub(tmp / "hub", database, None, "--standards", str(settings))
    folder = tmp / "kisumu-1"
    folder.mkdir()
    credential = folder / "hub-credential.json"
    edge_all(
        "hub", "enrol", hub.url, "--code", enrol_code(database, "kisumu-1"), "--credentials", str(credential)
    )
    for sample in ("KSM-0001", "KSM-0002"):
        record_slide(folder / "results.db", sample, FIELDS)
    record_cell_slide(folder / "results.db", CELLS)
    assert sync(folder / "results.db", credential)["pending"] == 0
    yield {"hub": hub, "database": database, "results": folder / "results.db"}
    hub.stop()


@pytest.fixture
def page(browser, world):  # noqa: F811
    context = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page, url: str) -> None:
    page.goto(url + "/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def sign_off(page, hub_url: str, sample: str, patient_id: str) -> None:
    page.goto(hub_url + "/")
    page.click(f"text={sample}")
    page.check("#signoff-form input[value=refer]")
    page.fill("#signoff-form input[name=comment]", "blasts; flow cytometry")
    page.fill("#signoff-form input[name=patient_id]", patient_id)
    page.fill("#signoff-form input[name=patient_name]", "Achieng Wanjiru")
    page.click("#signoff-form button[type=submit]")
    page.wait_for_load_state()


def states(page) -> dict[str, tuple[str, str]]:
    """The slide page's deliveries: what -> (state, detail)."""
    rows = page.locator("#delivery-table tbody tr")
    return {
        rows.nth(i).locator("td").nth(0).inner_text(): (
            rows.nth(i).locator("td.state strong").inner_text(),
            rows.nth(i).locator("td.detail").inner_text(),
        )
        for i in range(rows.count())
    }


def wait_for(page, check, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        page.reload()
        found = states(page)
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


EXPECTED = [*(f"field {n}" for n in range(1, FIELDS + 1)), "SR of findings", "FHIR DiagnosticReport"]


def qido(orthanc, accession: str) -> list[dict]:  # noqa: F811
    answer = requests.get(f"{orthanc.dicomweb}/instances", params={"AccessionNumber": accession},
                          auth=orthanc.auth, timeout=30)  # fmt: skip
    answer.raise_for_status()
    return answer.json() if answer.text else []


def test_a_signed_off_slide_reaches_orthanc_and_the_fhir_engine_and_the_page_says_sent(
    page,
    world,
    orthanc,  # noqa: F811
    fhir_engine,  # noqa: F811
):
    hub = world["hub"]
    sign_in(page, hub.url)
    sign_off(page, hub.url, "KSM-0001", "MRN-778812")
    found = wait_for(page, lambda s: len(s) == len(EXPECTED) and all(v[0] == "sent" for v in s.values()))
    assert sorted(found) == sorted(EXPECTED) and {state for state, _ in found.values()} == {"sent"}, found
    assert "built and queued" in page.inner_text("#export-request")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.locator("#deliveries").screenshot(path=str(Path(SHOTS) / "hub-standards-sent.png"))

    instances = qido(orthanc, "KSM-0001")
    assert len(instances) == FIELDS + 1  # the fields and the SR, each once
    assert {i["00100020"]["Value"][0] for i in instances} == {"MRN-778812"}  # the id the specialist typed
    reports = requests.get(f"{fhir_engine.base}/DiagnosticReport", timeout=30).json()
    (report,) = [e["resource"] for e in reports.get("entry", []) if "KSM-0001" in json.dumps(e)]
    assert report["status"] == "final" and "Screening aid, not a diagnosis." in report["conclusion"]

    with page.expect_download() as download:
        page.click("#download-fhir")
    downloaded = json.loads(download.value.path().read_bytes())
    assert downloaded["resourceType"] == "DiagnosticReport"
    assert downloaded["identifier"] == report["identifier"]
    with page.expect_download() as download:
        page.click("#download-dicom")
    with zipfile.ZipFile(download.value.path()) as archive:
        datasets = [dcmread(io.BytesIO(archive.read(name))) for name in archive.namelist()]
    assert {ds.SOPInstanceUID for ds in datasets} == {i["00080018"]["Value"][0] for i in instances}
    assert {ds.AccessionNumber for ds in datasets} == {"KSM-0001"}

    engine = open_engine(world["database"])
    actions = [e.action for e in audit.entries(engine, subject="slide kisumu-1/KSM-0001", limit=100)]
    engine.dispose()
    assert actions.count("sent to PACS") == FIELDS + 1 and actions.count("sent to FHIR server") == 1
    for action in ("sign-off", "export to PACS and FHIR requested", "export built", "download FHIR report",
                   "download DICOM"):  # fmt: skip
        assert action in actions


def test_a_pacs_that_is_down_is_retried_when_it_is_back_and_each_instance_is_sent_once(
    page,
    world,
    orthanc,  # noqa: F811
):
    hub = world["hub"]
    sign_in(page, hub.url)
    orthanc.stop()
    try:
        sign_off(page, hub.url, "KSM-0002", "MRN-100200")
        down = wait_for(page, lambda s: any("cannot reach the PACS" in d for _, d in s.values())
                        and s.get("FHIR DiagnosticReport", ("",))[0] == "sent")  # fmt: skip
        assert down["FHIR DiagnosticReport"][0] == "sent"  # the FHIR queue is not held up by the PACS
        assert {down[f"field {n}"][0] for n in range(1, FIELDS + 1)} == {"pending"}, down
        assert any("cannot reach the PACS" in detail for _, detail in down.values())
    finally:
        orthanc.start_again()
    back = wait_for(page, lambda s: len(s) == len(EXPECTED) and all(v[0] == "sent" for v in s.values()))
    assert {state for state, _ in back.values()} == {"sent"}, back
    assert len(qido(orthanc, "KSM-0002")) == FIELDS + 1

    page.click("#export-form button[type=submit]")  # sent again on request: nothing new goes out
    page.wait_for_load_state()
    time.sleep(3)  # the worker's interval, several times over
    again = wait_for(page, lambda s: "built and queued" in page.inner_text("#export-request"))
    assert {state for state, _ in again.values()} == {"sent"}
    assert len(qido(orthanc, "KSM-0002")) == FIELDS + 1
    engine = open_engine(world["database"])
    actions = [e.action for e in audit.entries(engine, subject="slide kisumu-1/KSM-0002", limit=200)]
    engine.dispose()
    assert actions.count("sent to PACS") == FIELDS + 1  # each instance sent once, after the retries
    assert actions.count("to PACS: will try again") >= 1
    assert actions.count("export built") == 2


def recorded_cells(results_db: Path, sample: str) -> list[list[tuple]]:
    """What the clinic's results database holds of the sample's cells, per field in capture order."""
    import sqlite3

    with sqlite3.connect(results_db) as db:
        captures = db.execute(
            "SELECT id, um_per_px FROM captures WHERE sample_id = ? ORDER BY id", (sample,)
        ).fetchall()
        return [
            (scale, db.execute("SELECT x0, y0, x1, y1, label, status FROM cells WHERE capture_id = ? "
                               "ORDER BY id", (capture,)).fetchall())
            for capture, scale in captures
        ]  # fmt: skip


def sr_cells(sr) -> list[tuple]:
    """(image UID, box x0, y0, x1, y1, class, triage status) of each cell group in an SR."""
    found = []
    for group in hd.sr.ComprehensiveSR.from_dataset(sr).content.get_planar_roi_measurement_groups():
        outline = group.roi.value
        image = group.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        status = group.get_qualitative_evaluations()[0].value.meaning
        found.append(
            (image, *(int(v) for v in (*outline[0], *outline[2])), group.finding_type.meaning, status)
        )
    return found


def test_a_cell_slide_shows_its_boxes_reaches_orthanc_with_scale_and_cells_and_a_second_signoff_amends(
    page,
    world,
    orthanc,  # noqa: F811
    fhir_engine,  # noqa: F811
):
    hub = world["hub"]
    sign_in(page, hub.url)
    page.goto(hub.url + "/")
    page.click(f"text={CELLS}")
    slide_url = page.url
    assert page.locator("#fields svg.cells-overlay").count() == 2  # one overlay per field with cells
    assert page.locator("#fields svg.cells-overlay g.cell").count() == 4
    assert page.locator("#fields svg g.cell-all-like rect").count() == 1
    assert page.locator("#fields svg g.cell-dropped").count() == 1
    assert "0.31 µm/px (site)" in page.inner_text("#fields")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.locator("#fields").screenshot(path=str(Path(SHOTS) / "hub-slide-cells.png"))
    page.click("#report-link")  # the printable report's flagged fields: by the model's label roles
    captions = page.locator("figcaption").all_inner_texts()
    assert len(captions) == 1 and captions[0].startswith("field 1 model: classified Pre"), captions
    page.goto(slide_url)

    sign_off(page, hub.url, CELLS, "MRN-300400")
    expected = ["field 1", "field 2", "SR of findings", "FHIR DiagnosticReport"]
    found = wait_for(
        page, lambda s: sorted(s) == sorted(expected) and all(v[0] == "sent" for v in s.values())
    )
    assert {state for state, _ in found.values()} == {"sent"}, found

    # Read back through Orthanc's DICOMweb (QIDO, then WADO) and compare with the clinic's record.
    session = requests.Session()
    session.auth = orthanc.auth
    web = DICOMwebClient(orthanc.dicomweb, session=session)
    instances = qido(orthanc, CELLS)
    assert len(instances) == 3
    retrieved = [
        web.retrieve_instance(i["0020000D"]["Value"][0], i["0020000E"]["Value"][0], i["00080018"]["Value"][0])
        for i in instances
    ]
    images = sorted((ds for ds in retrieved if ds.Modality == "GM"), key=lambda ds: ds.InstanceNumber)
    (sr,) = [ds for ds in retrieved if ds.Modality == "SR"]
    recorded = recorded_cells(world["results"], CELLS)
    assert [float(v) for v in images[0].PixelSpacing] == [recorded[0][0] / 1000] * 2  # 0.31 µm, in mm
    assert recorded[1][0] is None and "PixelSpacing" not in images[1]  # unknown scale: none claimed
    expected_cells = [
        (image.SOPInstanceUID, *cell)
        for image, (_, cells) in zip(images, recorded, strict=True)
        for cell in cells
    ]
    assert sr_cells(sr) == expected_cells
    for ds in retrieved:
        assert dciodvfy.verify(part10(ds)).errors == ()

    # A second sign-off: the one FHIR report is amended (with its history), a new SR joins the series.
    page.goto(slide_url)  # signed off: no longer on the open worklist
    page.check("#signoff-form input[value=inconclusive]")
    page.fill("#signoff-form input[name=comment]", "smear too thick; repeat")
    page.click("#signoff-form button[type=submit]")
    page.wait_for_load_state()
    amended_sr = "SR of findings, sign-off 2 (a new instance; amends the earlier)"
    after = ["field 1", "field 2", "SR of findings", amended_sr, "FHIR DiagnosticReport (amended)"]
    found = wait_for(page, lambda s: sorted(s) == sorted(after) and all(v[0] == "sent" for v in s.values()))
    assert sorted(found) == sorted(after) and {state for state, _ in found.values()} == {"sent"}, found
    if SHOTS:
        page.locator("#deliveries").screenshot(path=str(Path(SHOTS) / "hub-standards-amended.png"))
    instances = qido(orthanc, CELLS)
    assert len(instances) == 4  # the two images, the first SR and the second
    srs = [i for i in instances if i["00080016"]["Value"][0] == "1.2.840.10008.5.1.4.1.1.88.33"]
    assert len({i["0020000E"]["Value"][0] for i in srs}) == 1 and len(srs) == 2  # one series, two SRs
    reports = requests.get(f"{fhir_engine.base}/DiagnosticReport", timeout=30).json()
    (report,) = [e["resource"] for e in reports.get("entry", []) if CELLS in json.dumps(e)]
    assert report["status"] == "amended" and "Specialist: inconclusive" in report["conclusion"]
    assert DISCLAIMER in report["conclusion"]
    history = requests.get(f"{fhir_engine.base}/DiagnosticReport/{report['id']}/_history", timeout=30).json()
    assert [e["resource"]["status"] for e in history["entry"]] == ["amended", "final"]
