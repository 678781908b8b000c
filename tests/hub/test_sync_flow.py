"""A clinic and the hub, as real processes: enrol, sync, resend, sign off, the sign-off comes down."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import func, select

from edge_all.accounts.database import open_engine
from edge_all.accounts.people import Accounts
from edge_all.hub.schema import blobs, fields, slide_calls
from edge_all.hub.storage import HubStore
from edge_all.sync import credentials
from edge_all.sync import engine as sync_engine
from edge_all.sync.link import HubRefused
from edge_all.sync.outbox import Outbox, outbox_path
from tests.servers.hub import enrol_code, prepare, start_hub

from .conftest import edge_all, record_slide, sync


def counts(database: str) -> dict[str, int]:
    engine = open_engine(database)
    with engine.connect() as connection:
        result = {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("fields", fields), ("calls", slide_calls), ("blobs", blobs))
        }
    engine.dispose()
    return result


def test_a_clinic_enrols_syncs_and_gets_its_signoff_back(tmp_path):
    database = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    (tmp_path / "hub").mkdir()
    prepare(database, {"kisumu-1": "Kisumu"}, [("ada", "specialist", ("kisumu-1",))])
    hub = start_hub(tmp_path / "hub", database)
    try:
        clinic = tmp_path / "clinic"
        clinic.mkdir()
        credential = clinic / "hub-credential.json"
        edge_all(
            "hub",
            "enrol",
            hub.url,
            "--code",
            enrol_code(database, "kisumu-1"),
            "--credentials",
            str(credential),
        )
        assert stat.S_IMODE(os.stat(credential).st_mode) == 0o600
        db = clinic / "results.db"
        record_slide(db, "PBS-0001", 4)

        first = sync(db, credential)
        assert first["sent"] == 4 + 1 and first["pending"] == 0  # four fields and the slide's call
        assert counts(database) == {"fields": 4, "calls": 1, "blobs": 4}
        again = sync(db, credential)
        assert again["sent"] == 0 and counts(database) == {"fields": 4, "calls": 1, "blobs": 4}

        engine = open_engine(database)
        store, ada = HubStore(engine), Accounts(engine).person("ada")
        (slide,) = store.worklist(ada)
        assert slide["sample_id"] == "PBS-0001" and slide["flagged"] and slide["received"] == 4
        assert slide["verdict"] and slide["counts"]["fields"] == 4
        store.add_review(slide["id"], ada, "refer", "blasts seen", field_id=None, signoff=True, client="test")
        down = sync(db, credential)
        assert down["signoffs"] == 1
        with Outbox(outbox_path(db)) as outbox:
            (review,) = outbox.hub_reviews("PBS-0001")
        assert review["decision"] == "refer" and review["signoff"] == 1 and review["reviewer"] == "Ada"

        record_slide(db, "PBS-0001", 2, flagged=False)  # more fields after the sign-off
        sync(db, credential)
        (slide,) = store.worklist(ada)
        assert slide["changed"] and slide["received"] == 6
        engine.dispose()
    finally:
        hub.stop()


def test_a_clinic_newer_than_its_hub_refuses_clearly_and_keeps_its_outbox(tmp_path, monkeypatch):
    """The hub names its sync protocol (whoami); a clinic whose protocol is newer sends nothing (the
    hub's schema would refuse every record), says why, and keeps everything in its outbox. The real
    hub here speaks protocol 2; the clinic is made one protocol newer."""
    database = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    (tmp_path / "hub").mkdir()
    prepare(database, {"kisumu-1": "Kisumu"}, [])
    hub = start_hub(tmp_path / "hub", database)
    try:
        clinic = tmp_path / "clinic"
        clinic.mkdir()
        credential = clinic / "hub-credential.json"
        code = enrol_code(database, "kisumu-1")
        edge_all("hub", "enrol", hub.url, "--code", code, "--credentials", str(credential))
        db = clinic / "results.db"
        record_slide(db, "PBS-0009", 3)
        syncer = sync_engine.Syncer(db, credentials.read(credential))
        try:
            assert syncer.link.request("GET", "/whoami").json()["protocol"] == sync_engine.PROTOCOL == 2
            monkeypatch.setattr(sync_engine, "PROTOCOL", 3)
            with pytest.raises(HubRefused) as refused:
                sync_engine.watch(syncer, until_idle=True, max_seconds=10)
            assert refused.value.status == sync_engine.OLD_HUB
            assert "the hub speaks sync protocol 2, this clinic sends protocol 3" in refused.value.why
            assert syncer.outbox.state().pending == 3 + 1  # every field and the call, kept
        finally:
            syncer.close()
        assert counts(database)["fields"] == 0  # nothing was sent
    finally:
        hub.stop()
