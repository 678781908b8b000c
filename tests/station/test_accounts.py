"""Personal accounts and the audit on the station (real `edge-all serve`, real chromium, real SQLite):
the first administrator is made from the command line; the shared password keeps working beside the
accounts until that administrator retires it; a technician captures, a specialist reviews and is named
by the review; logins, captures, reviews and exports land in the append-only audit of edge_all.accounts,
the same implementation as the hub's."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from edge_all.results.store import ResultsStore
from edge_all.station.passwords import hash_password, write_password_file

from .browser import new_page, shoot, wait_until
from .helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, start_station

SHARED = "correct horse battery"
ADMIN_PASSWORD = "ada-strong-password"
SLIDE = "AC-0001"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("accounts")
    ids = seed_slide(
        tmp / "results.db", tmp / "frames", SLIDE,
        [SeededField("classified", "Pre", 0.91), SeededField("classified", "Benign", 0.97)],
    )  # fmt: skip
    write_password_file(tmp / "station-password.json", hash_password(SHARED))  # today's station
    made = subprocess.run(
        [sys.executable, "-m", "edge_all", "serve", "--db", str(tmp / "results.db"), "--add-admin", "ada",
         "--display-name", "Dr Ada Okafor"],
        input=f"{ADMIN_PASSWORD}\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0 and "administrator ada made" in made.stderr, made.stderr
    server = start_station(tmp, reference_model, "video:/nonexistent.avi")
    server.ids = ids
    server.accounts = tmp / "station-accounts.db"
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def sign_in(page, station, username: str, password: str) -> None:
    page.goto(station.url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(station.url + "/")


def audit(station) -> list[tuple[str, str, str]]:
    with sqlite3.connect(station.accounts) as connection:
        return connection.execute("SELECT actor, action, subject FROM audit ORDER BY id").fetchall()


def test_accounts_beside_the_shared_password_then_instead_of_it(browser, station):
    # The shared password still works: the station of yesterday goes on.
    context, page = new_page(browser)
    sign_in(page, station, "", SHARED)
    assert "shared password" in page.locator("#who").inner_text()
    assert page.locator("nav a", has_text="Accounts").count() == 0
    context.close()

    # The administrator signs in with their own account and adds a technician and a specialist.
    context, admin = new_page(browser)
    sign_in(admin, station, "ada", ADMIN_PASSWORD)
    assert "Dr Ada Okafor" in admin.locator("#who").inner_text()
    admin.locator("nav a", has_text="Accounts").click()
    for username, name, role in (("tom", "Tom Mwangi", "technician"), ("sam", "Dr Sam Haddad", "specialist")):
        form = admin.locator("#add-person")
        form.locator("input[name=username]").fill(username)
        form.locator("input[name=display_name]").fill(name)
        form.locator("select[name=role]").select_option(role)
        form.locator("input[name=password]").fill(f"{username}-long-password")
        form.get_by_role("button", name="Add").click()
        admin.wait_for_url("**/accounts")
    people = admin.locator("#people").inner_text()
    assert "tom" in people and "technician" in people and "sam" in people and "specialist" in people
    shoot(admin, "accounts", full_page=True)

    # A technician captures; a review is not theirs to make.
    context2, tech = new_page(browser)
    sign_in(tech, station, "tom", "tom-long-password")
    tech.goto(station.url + "/new")
    tech.fill("#sample-id", "AC-NEW")
    tech.click("#start")
    tech.goto(f"{station.url}/slide?id={SLIDE}")
    assert (
        tech.locator("form.review").count() == 0
        and "does not review" in tech.locator("#no-review").inner_text()
    )
    context2.close()

    # A specialist reviews, named by their account; they do not capture.
    context3, spec = new_page(browser)
    sign_in(spec, station, "sam", "sam-long-password")
    spec.goto(f"{station.url}/slide?id={SLIDE}")
    card = spec.locator("#fields article").nth(0)
    card.get_by_text("Review this field").click()
    assert card.locator("input[name=reviewer]").count() == 0
    assert "Reviewing as Dr Sam Haddad (sam)" in card.inner_text()
    card.get_by_label("Benign").check()
    card.get_by_role("button", name="Save field review").click()
    wait_until(spec, "() => document.querySelector('#fields article .review-shown') !== null")
    assert "corrected to Benign by Dr Sam Haddad (sam)" in card.inner_text()
    with spec.expect_download():
        spec.click("#export-link")
    status = spec.evaluate(
        "async () => (await fetch('/capture/start', {method: 'POST', body: new URLSearchParams({"
        "csrf_token: document.querySelector('input[name=csrf_token]').value, sample_id: 'NOPE'})})).status"
    )
    assert status == 403
    context3.close()
    with ResultsStore.open(station.db, create=False) as store:
        (review,) = store.reviews(SLIDE)
    assert review["reviewer"] == "Dr Sam Haddad (sam)" and review["decision"] == "Benign"

    # The administrator retires the shared password: from now on only accounts sign in.
    admin.goto(station.url + "/accounts")
    admin.click("#retire-shared")
    admin.wait_for_url("**/accounts")
    assert admin.locator("#shared-password").count() == 0
    rows = admin.locator("#audit").inner_text()
    assert "retire shared password" in rows and "review field" in rows
    context.close()
    client = Client(station.url)
    token = client.csrf("/login")
    status, _, body, _ = client.post("/login", {"csrf_token": token, "username": "", "password": SHARED})
    assert status == 401 and client.get("/")[0] == 303

    trail = audit(station)
    for expected in [
        ("system:", "add account", "person ada"),
        ("shared:station password", "login", "station password"),
        ("person:ada", "login", "person ada"),
        ("person:ada", "add account", "person tom"),
        ("person:tom", "login", "person tom"),
        ("person:tom", "start capture", "slide AC-NEW"),
        ("person:sam", "review field", f"slide {SLIDE}"),
        ("person:sam", "export csv", f"slide {SLIDE}"),
        ("person:ada", "retire shared password", "station password"),
        ("shared:station password", "login refused", "station password"),
    ]:
        assert any(a.startswith(expected[0]) and (b, c) == expected[1:] for a, b, c in trail), (
            expected,
            trail,
        )
    with (
        sqlite3.connect(station.accounts) as connection,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        connection.execute("UPDATE audit SET actor = 'someone else'")


def test_a_technician_cannot_reach_the_accounts_page(station):
    client = Client(station.url)
    token = client.csrf("/login")
    form = {"csrf_token": token, "username": "tom", "password": "tom-long-password"}
    assert client.post("/login", form)[0] == 303
    assert client.get("/accounts")[0] == 403
    token = client.csrf("/slides")
    add = {
        "csrf_token": token,
        "action": "add",
        "username": "eve",
        "role": "administrator",
        "password": "x" * 12,
    }
    assert client.post("/accounts", add)[0] == 403
