"""Faults with real processes: the Pi powered off mid-sync (kill -9), the hub killed and restarted,
the link cut in the middle of a picture, PostgreSQL restarted under a serving hub. Each time: nothing
lost, nothing duplicated."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from edge_all.accounts.database import open_engine
from edge_all.hub import migrate
from edge_all.hub.schema import blobs, fields
from edge_all.sync.outbox import Outbox, outbox_path
from tests.servers.hub import enrol_code, prepare, start_hub
from tests.servers.proxy import Proxy

from .conftest import edge_all, record_slide, sync


def held(database: str) -> tuple[int, int, int]:
    """(fields, distinct field ids, pictures) the hub holds."""
    engine = open_engine(database)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(fields)).scalar_one()
        distinct = connection.execute(select(func.count(func.distinct(fields.c.record_id)))).scalar_one()
        pictures = connection.execute(select(func.count()).select_from(blobs)).scalar_one()
    engine.dispose()
    return count, distinct, pictures


def pending(db) -> int:
    with Outbox(outbox_path(db)) as outbox:
        return outbox.state().pending


def enrolled_clinic(tmp_path, hub_url, database, clinic="kisumu-1"):
    folder = tmp_path / clinic
    folder.mkdir()
    credential = folder / "hub-credential.json"
    edge_all(
        "hub", "enrol", hub_url, "--code", enrol_code(database, clinic), "--credentials", str(credential)
    )
    return folder / "results.db", credential


def start_sync(db, credential, *extra) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "edge_all",
        "sync",
        "--db",
        str(db),
        "--credential",
        str(credential),
        *extra,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def sqlite_hub(tmp_path):
    database = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    (tmp_path / "hub").mkdir()
    prepare(database, {"kisumu-1": "Kisumu"})
    hub = start_hub(tmp_path / "hub", database)
    hub.database = database
    yield hub
    hub.stop()


def test_the_pi_powered_off_mid_sync_loses_and_duplicates_nothing(tmp_path, sqlite_hub):
    db, credential = enrolled_clinic(tmp_path, sqlite_hub.url, sqlite_hub.database)
    record_slide(db, "PBS-KILL", 80)
    process = start_sync(db, credential)
    wait_for(lambda: held(sqlite_hub.database)[0] > 0, 60, "the first field at the hub")
    process.send_signal(signal.SIGKILL)  # the power goes
    process.wait()
    assert held(sqlite_hub.database)[0] < 80, "the sync finished before it could be cut off"
    done = sync(db, credential)
    assert done["pending"] == 0
    assert held(sqlite_hub.database) == (80, 80, 80)


def test_the_hub_killed_and_restarted_mid_sync_loses_and_duplicates_nothing(tmp_path, sqlite_hub):
    db, credential = enrolled_clinic(tmp_path, sqlite_hub.url, sqlite_hub.database)
    record_slide(db, "PBS-RESTART", 80)
    process = start_sync(db, credential, "--max-seconds", "120")
    wait_for(lambda: held(sqlite_hub.database)[0] > 0, 60, "the first field at the hub")
    sqlite_hub.stop(signal.SIGKILL)
    time.sleep(1.0)  # the clinic backs off meanwhile
    sqlite_hub.start()
    assert process.wait(120) == 0, process.stdout.read().decode()
    assert pending(db) == 0
    assert held(sqlite_hub.database) == (80, 80, 80)


def test_a_link_cut_in_the_middle_of_a_picture_stores_no_half_picture_and_resumes(tmp_path, sqlite_hub):
    proxy = Proxy(sqlite_hub.port, cut_after_bytes=3000)  # inside the first picture's bytes
    try:
        db, credential = enrolled_clinic(tmp_path, sqlite_hub.url, sqlite_hub.database)
        text = credential.read_text().replace(sqlite_hub.url, proxy.url)
        credential.write_text(text)
        record_slide(db, "PBS-CUT", 6)
        failed = sync(db, credential, "--max-seconds", "3", check=False)
        assert "error" in failed and "could not be reached" in failed["error"]
        assert proxy.cut > 0
        assert held(sqlite_hub.database) == (0, 0, 0)
        assert not [p for p in (tmp_path / "hub" / "pictures").rglob("*") if p.is_file()]
        assert pending(db) == 7
        proxy.cut_after_bytes = None  # the link comes back
        assert sync(db, credential)["pending"] == 0
        assert held(sqlite_hub.database) == (6, 6, 6)
    finally:
        proxy.close()


def test_postgresql_restarted_under_a_serving_hub_loses_and_duplicates_nothing(tmp_path, postgres):
    owner_url, app_url = postgres.new_database("faults")
    owner = open_engine(owner_url)
    migrate.upgrade(owner)
    migrate.grant(owner, "hub_app")
    owner.dispose()
    prepare(owner_url, {"kisumu-1": "Kisumu"})
    hub = start_hub(tmp_path / "hub", app_url, None, "--no-migrate")
    try:
        db, credential = enrolled_clinic(tmp_path, hub.url, owner_url)
        record_slide(db, "PBS-PG", 60)
        process = start_sync(db, credential, "--max-seconds", "120")
        wait_for(lambda: held(owner_url)[0] > 0, 60, "the first field at the hub")
        postgres.restart()
        assert process.wait(120) == 0, process.stdout.read().decode()
        assert held(owner_url) == (60, 60, 60)
        assert pending(db) == 0
    finally:
        hub.stop()
