"""The site a session read with travels to the hospital: the station's outbox names the profile's sha256
in each field's session (the hub stores it as site_profile_sha256); a session without one sends None."""

from __future__ import annotations

import dataclasses

from edge_all.results.store import ResultsStore
from edge_all.sync.outbox import Outbox
from tests.results.test_scale_columns import INFO, record

SITE = "5e" * 32


def test_each_field_names_the_site_its_session_read_with(tmp_path):
    db = tmp_path / "results.db"
    with ResultsStore.open(db) as store:
        plain = store.start_session(INFO)
        store.add(record(plain, 0))
        sited = store.start_session(dataclasses.replace(INFO, site_sha256=SITE))
        store.add(record(sited, 1))
    outbox = Outbox(tmp_path / "outbox.db")
    assert outbox.enqueue_from(db, "clinic-a") >= 2
    fields = [p.body for p in outbox.pending(10) if "capture_id" in p.body]
    sites = {body["frame_index"]: body["session"]["site_profile_sha256"] for body in fields}
    assert sites == {0: None, 1: SITE}
