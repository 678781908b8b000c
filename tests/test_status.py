"""One word for each outcome of a field: the Status enum, the database and the flagged set agree."""

from __future__ import annotations

import json
import re

from edge_all.results.store import ResultsStore
from edge_all.triage.status import FLAGGED, Status


def test_the_database_accepts_exactly_the_status_words(tmp_path):
    """The schema's CHECK is history (a migration, written once when it shipped); it must still name
    exactly the words the code writes."""
    with ResultsStore.open(tmp_path / "r.db") as store:
        (sql,) = store.connection.execute("SELECT sql FROM sqlite_master WHERE name = 'captures'").fetchone()
    allowed = re.search(r"CHECK \(status IN \(([^)]*)\)\)", sql).group(1)
    assert {word.strip(" '") for word in allowed.split(",")} == {status.value for status in Status}


def test_a_status_is_its_word_wherever_it_is_written():
    assert Status("referred") is Status.REFERRED and Status.REFERRED == "referred"
    assert f"{Status.UNCERTAIN}" == str(Status.UNCERTAIN) == "uncertain"
    assert f"{Status.ERROR:<7}|" == "error  |"
    assert json.dumps({"status": Status.CLASSIFIED}) == '{"status": "classified"}'
    assert {"rejected": 1}[Status.REJECTED] == 1  # hashes as its word: counts keyed by either agree


def test_flagged_fields_are_the_uncertain_and_the_referred():
    assert {Status.UNCERTAIN, Status.REFERRED} == FLAGGED
