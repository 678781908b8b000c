"""Issue 24's "done when", in a real chromium against real servers: a specialist signs in with a
personal account, sees slides from two clinics, reviews a field and signs a slide off; the clinic
syncs, and its station shows the answer. A technician sees only their clinic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers.hub import PASSWORD, enrol_code, prepare, start_hub
from tests.servers.required import free_port, wait_port
from tests.station.conftest import browser  # noqa: F401 - the shared chromium fixture

from .conftest import edge_all, record_slide, sync

SHOTS = os.environ.get("EDGE_ALL_HUB_SCREENSHOTS")  # a folder: save the pictures in docs/hub.md


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"hub-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A hub with two enrolled, synced clinics, and the Kisumu clinic's station."""
    tmp = tmp_path_factory.mktemp("world")
    database = f"sqlite:///{tmp / 'hub.db'}"
    prepare(
        database,
        {"kisumu-1": "Kisumu clinic", "eldoret-2": "Eldoret clinic"},
        [("ada", "specialist", ("kisumu-1", "eldoret-2")), ("tom", "technician", ("eldoret-2",))],
    )
    hub = start_hub(tmp / "hub", database, None, "--name", "County Hospital")
    clinics = {}
    for clinic, sample in (("kisumu-1", "KSM-0001"), ("eldoret-2", "ELD-0001")):
        folder = tmp / clinic
        folder.mkdir()
        credential = folder / "hub-credential.json"
        edge_all(
            "hub", "enrol", hub.url, "--code", enrol_code(database, clinic), "--credentials", str(credential)
        )
        record_slide(folder / "results.db", sample, 4)
        assert sync(folder / "results.db", credential)["pending"] == 0
        clinics[clinic] = (folder / "results.db", credential)
    port = free_port()
    db = clinics["kisumu-1"][0]
    station = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge_all",
            "serve",
            "--db",
            str(db),
            "--camera",
            "folder:" + str(db.parent),
            "--port",
            str(port),
        ],
        stdout=open(tmp / "station.log", "wb"),  # noqa: SIM115 - the station writes to it for its whole life
        stderr=subprocess.STDOUT,
    )
    assert wait_port(port, 60, alive=lambda: station.poll() is None), (tmp / "station.log").read_text()
    yield {"hub": hub, "clinics": clinics, "station": f"http://127.0.0.1:{port}"}
    station.terminate()
    station.wait(30)
    hub.stop()


@pytest.fixture
def page(browser, world):  # noqa: F811
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert not dialogs


def sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def test_a_specialist_signs_a_slide_off_and_the_clinic_station_shows_it(page, world):
    hub = world["hub"]
    sign_in(page, hub.url, "ada")
    assert "Ada (specialist)" in page.inner_text("#who")
    rows = page.inner_text("#worklist")
    assert "KSM-0001" in rows and "ELD-0001" in rows
    assert "Kisumu clinic" in rows and "Eldoret clinic" in rows
    shoot(page, "worklist")

    page.click("text=KSM-0001")
    assert page.locator("#fields article").count() == 4
    assert page.locator("img.thumb").first.evaluate("img => img.complete && img.naturalWidth > 0")
    first = page.locator("#fields article").first
    first.locator("summary").click()
    assert first.locator("select[name=decision]").input_value() == ""  # nothing chosen for the reviewer
    first.locator("select[name=decision]").select_option("Pre")
    first.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Pre by Ada (hospital)" in page.locator("#fields article").first.inner_text()

    page.check("#signoff-form input[value=refer]")
    page.fill("#signoff-form input[name=comment]", "blasts on fields 0 and 1; flow cytometry")
    page.click("#signoff-form button[type=submit]")
    page.wait_for_load_state()
    assert "sign-off: refer by Ada (at the hospital)" in page.inner_text("#slide-reviews")
    shoot(page, "slide")

    page.goto(hub.url + "/?show=signed")
    assert "KSM-0001" in page.inner_text("#worklist") and "signed off" in page.inner_text("#worklist")

    db, credential = world["clinics"]["kisumu-1"]
    assert sync(db, credential)["signoffs"] == 2  # the field review and the sign-off
    page.goto(world["station"] + "/slide?id=KSM-0001")
    hospital = page.inner_text("#hospital")
    assert (
        "Reviewed at the hospital: refer" in hospital and "Ada" in hospital and "flow cytometry" in hospital
    )
    shoot(page, "station-answer")
    page.goto(world["station"] + "/slides")
    assert "reviewed at the hospital: refer" in page.inner_text("#slides")


def test_a_technician_sees_only_their_clinic_and_cannot_sign_off(page, world):
    sign_in(page, world["hub"].url, "tom")
    rows = page.inner_text("#worklist")
    assert "ELD-0001" in rows and "KSM-0001" not in rows
    page.click("text=ELD-0001")
    assert page.locator("#signoff-form").count() == 0
    slide_url = page.url
    kisumu = slide_url.rsplit("=", 1)[0] + "=1"  # the other clinic's slide, by guessing its id
    page.goto(kisumu)
    assert page.locator("h1").inner_text() == "404" and "no such slide" in page.content()


def test_a_wrong_password_says_so_and_the_pages_need_a_session(page, world):
    hub = world["hub"]
    page.goto(hub.url + "/login")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("#login-error")
    page.goto(hub.url + "/slide?id=1")
    assert "/login" in page.url
