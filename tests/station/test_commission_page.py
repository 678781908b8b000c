"""The station's site (issue 23), on a real `edge-all serve` with real SQLite and the reference bundle:
"not commissioned" on every page until a ready profile is there; the Commission page (a technician's or
an administrator's) commissions on a slide's captured fields, refuses unsuitable ones touching nothing,
and shows the verdict and the report; every new slide is then read with the site, its sha256 recorded
with the session; a field unlike the commissioning fields shows its drift warning."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from edge_all.accounts.audit import Actor
from edge_all.digest import sha256_file
from edge_all.results.store import ResultsStore
from edge_all.station.people import StationPeople
from tests.cells.smears import draw_field
from tests.site.conftest import FIELD_SIZE, FIELDS, UM_PER_PX

from .browser import new_page, shoot
from .helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, start_station

ADMIN, ADMIN_PASSWORD = "ada", "ada-strong-password"
SPECIALIST, SPECIALIST_PASSWORD = "sam", "sam-strong-password"
CONTROL, UNSTAINED = "control-2026-12-08", "control-unstained"


def _pictures(folder, kind: str, count: int) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rgb = draw_field(UM_PER_PX, size=FIELD_SIZE, white_cells=1 + i % 2, seed=200 + i)
        if kind == "unstained":
            rgb = rgb.mean(axis=2, keepdims=True).repeat(3, 2).astype(np.uint8)
        path = folder / f"{kind}-{i:02d}.png"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("commission")
    db, frames = tmp / "results.db", tmp / "frames"
    for sample, kind in ((CONTROL, "control"), (UNSTAINED, "unstained")):
        pictures = _pictures(tmp / kind, kind, FIELDS)
        seed_slide(db, frames, sample, [SeededField("classified", "Benign", 0.9, image=p) for p in pictures])
    made = subprocess.run(
        [sys.executable, "-m", "edge_all", "serve", "--db", str(db), "--add-admin", ADMIN],
        input=f"{ADMIN_PASSWORD}\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    people = StationPeople(tmp / "station-accounts.db", "test")
    people.add_person(
        SPECIALIST, "Dr Sam", "specialist", SPECIALIST_PASSWORD, Actor("system:test", "administrator")
    )
    people.close()
    camera = tmp / "camera"
    camera.mkdir()
    server = start_station(tmp, reference_model, f"folder:{camera}", "--interval", "0")
    server.site = tmp / "site"
    server.camera = camera
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def _signed_in(station, username: str, password: str) -> Client:
    client = Client(station.url)
    token = client.csrf("/login")
    status, headers, _, _ = client.post(
        "/login", {"csrf_token": token, "username": username, "password": password, "next": "/"}
    )
    assert status == 303, status
    return client


def _commission(client: Client, sample_id: str) -> tuple[int, str]:
    token = client.csrf("/commission")
    status, _, body, _ = client.post(
        "/commission", {"csrf_token": token, "sample_id": sample_id, "stated_um_per_px": ""}
    )
    return status, body.decode()


def _audit(station) -> list[tuple[str, str]]:
    with sqlite3.connect(station.db.parent / "station-accounts.db") as connection:
        return connection.execute("SELECT action, subject FROM audit ORDER BY id").fetchall()


def _capture_one(client: Client, station, sample_id: str, picture) -> dict:
    """Start a one-field capture of a new slide from the folder camera; its row once recorded."""
    for old in station.camera.iterdir():  # the folder camera reads the one new picture
        old.unlink()
    token = client.csrf("/new")
    status, _, _, _ = client.post(
        "/capture/start", {"csrf_token": token, "sample_id": sample_id, "count": "1"}
    )
    assert status == 303
    picture_copy = station.camera / f"{sample_id}.png"
    Image.open(picture).save(picture_copy)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with ResultsStore.open(station.db, create=False) as store:
            rows = list(store.captures(sample_id=sample_id))
            if rows:
                session = store.session(rows[0]["session_id"])
                return {**rows[0], "site_sha256": session["site_sha256"]}
        time.sleep(0.3)
    raise AssertionError(f"no field recorded:\n{station.output()}")


def test_commissioning_from_the_page_then_every_slide_is_read_with_the_site(station, tmp_path):
    # Not commissioned: every page says so (the sign-in page without the details), even to someone
    # who may not commission.
    anyone = Client(station.url)
    status, _, body, _ = anyone.get("/login")
    assert status == 200 and b'id="not-commissioned"' in body and b"no site profile yet" not in body
    assert anyone.get("/commission")[0] == 303  # to the sign-in page
    specialist = _signed_in(station, SPECIALIST, SPECIALIST_PASSWORD)
    body = specialist.get("/slides")[2]
    assert b'id="not-commissioned"' in body and b"no site profile yet" in body
    assert b"a technician or an administrator commissions it" in body
    assert specialist.get("/commission")[0] == 403

    admin = _signed_in(station, ADMIN, ADMIN_PASSWORD)
    # Unsuitable fields: refused in one line, nothing written, still not commissioned.
    status, page = _commission(admin, UNSTAINED)
    assert status == 409 and "refused, no profile written: the fields are unstained" in page
    assert not station.site.exists() and b'id="not-commissioned"' in admin.get("/")[2]
    assert list(station.site.parent.glob(".site.new-*")) == []

    # The control smear's fields: ready, the report shown, the banner gone.
    status, page = _commission(admin, CONTROL)
    assert status == 200, page
    assert '<h2 id="verdict">Ready</h2>' in page
    digest = sha256_file(station.site / "site.json")
    assert digest in page and re.search(r"Commissioned .* on 30 fields", page)
    status, headers, report, _ = admin.get("/commission/report")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"ready" in report.lower()
    assert b'id="not-commissioned"' not in admin.get("/")[2]
    assert ("commission refused", f"slide {UNSTAINED}") in _audit(station)
    assert ("commission", f"slide {CONTROL}") in _audit(station)

    # A new slide is read with the site: its scale, its sha256 with the session.
    row = _capture_one(admin, station, "P-0001", station.site / "images" / "control-05.png")
    assert row["site_sha256"] == digest and row["scale_source"] == "site" and row["drift"] is None

    # A field of another stain: its warning on the field page.
    restained = np.asarray(Image.open(station.site / "images" / "control-06.png")).astype(float)
    restained[..., 0] *= 0.8
    restained[..., 2] = np.minimum(255, restained[..., 2] * 1.1)
    Image.fromarray(restained.astype(np.uint8)).save(tmp_path / "restained.png")
    time.sleep(1.0)  # the first capture has finished
    row = _capture_one(admin, station, "P-0002", tmp_path / "restained.png")
    assert row["drift"].startswith("this field does not look like the commissioning slide: stain")
    status, _, field_page, _ = admin.get(f"/field?id={row['id']}")
    assert (
        status == 200
        and b'id="drift"' in field_page
        and b"does not look like the commissioning" in field_page
    )


def test_the_commission_page_in_a_browser(browser, station):
    context, page = new_page(browser)
    page.goto(station.url + "/login")
    page.fill("#username", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(station.url + "/")
    page.locator("nav a", has_text="Commission").click()
    page.wait_for_url("**/commission")
    page.select_option("#commission-slide", CONTROL)
    page.click("#commission")
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").inner_text() == "Ready"
    assert page.locator("#not-commissioned").count() == 0
    shoot(page, "commission", full_page=True)
    context.close()
