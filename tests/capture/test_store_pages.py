"""The store's read queries for the station: pages of fields, flagged fields, counts, date ranges."""

from __future__ import annotations

import dataclasses

from edge_all.results.store import ResultsStore, Review

from .test_store import INFO, record


def fill(store: ResultsStore) -> dict[str, list[int]]:
    """S1: 3 Pre, 2 Benign, 1 uncertain, 1 referred, 1 rejected; S_2 (a LIKE wildcard in it): 2 Benign."""
    s1 = store.start_session(INFO)
    plan = [
        ("classified", "Pre"), ("classified", "Benign"), ("uncertain", "Early"), ("classified", "Pre"),
        ("rejected", None), ("referred", "Pro"), ("classified", "Benign"), ("classified", "Pre"),
    ]  # fmt: skip
    ids = {"S1": [], "S_2": []}
    for i, (status, label) in enumerate(plan):
        at = f"2026-01-0{1 + i // 4}T10:00:0{i % 4}.000+00:00"
        ids["S1"].append(store.add(dataclasses.replace(record(s1, i, status, label), captured_at=at)).id)
    s2 = store.start_session(dataclasses.replace(INFO, sample_id="S_2"))
    for i in range(2):
        row = dataclasses.replace(record(s2, i, "classified", "Benign", sample_id="S_2"))
        ids["S_2"].append(store.add(dataclasses.replace(row, captured_at="2026-01-03T09:00:00.000+00:00")).id)
    return ids


def test_pages_of_fields_in_capture_order(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        ids = fill(store)
        pages = [store.captures_page("S1", limit=3, offset=offset) for offset in (0, 3, 6, 9)]
        assert [[row["id"] for row in page] for page in pages] == [
            ids["S1"][0:3],
            ids["S1"][3:6],
            ids["S1"][6:8],
            [],
        ]
        assert store.captures_page("nothing", limit=10) == []


def test_flagged_fields_are_those_the_sample_row_counts(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        ids = fill(store)
        flagged = store.captures_page("S1", limit=100, flagged=True)
        # Pre, uncertain, Pre, referred, Pre: not the Benign and not the rejected fields.
        assert [row["id"] for row in flagged] == [ids["S1"][i] for i in (0, 2, 3, 5, 7)]
        sample = store.sample("S1")
        assert len(flagged) == sample["all_like"] + sample["uncertain"] + sample["referred"]
        assert store.captures_page("S_2", limit=100, flagged=True) == []


def test_counting_samples_matches_the_search_literally(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        fill(store)
        assert store.count_samples() == 2 == len(store.samples())
        assert store.count_samples("_") == 1 == len(store.samples("_"))  # "_" is not a wildcard
        assert store.count_samples("S") == 2
        assert store.count_samples("%") == 0


def test_reviewed_samples_counts_only_reviews_of_the_whole_sample(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        ids = fill(store)
        at = "2026-01-05T00:00:00+00:00"
        store.add_review(Review("S1", "Dr A", "Benign", at, capture_id=ids["S1"][0]))
        assert store.reviewed_samples(["S1", "S_2"]) == set()
        store.add_review(Review("S1", "Dr A", "refer", at, comment="blasts seen"))
        assert store.reviewed_samples(["S1", "S_2", None]) == {"S1"}
        assert store.reviewed_samples([]) == set()


def test_captures_between_takes_the_half_open_range(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        ids = fill(store)
        day2 = list(store.captures_between("2026-01-02T00:00:00.000+00:00", "2026-01-03T00:00:00.000+00:00"))
        assert [row["id"] for row in day2] == ids["S1"][4:8]
        everything = list(store.captures_between("2026-01-01", "2026-01-04"))
        assert len(everything) == 10


def test_sessions_of_a_sample(tmp_path):
    with ResultsStore.open(tmp_path / "r.db") as store:
        fill(store)
        (session,) = store.sessions_of_sample("S_2")
        assert session["sample_id"] == "S_2" and session["bundle_sha256"] == INFO.bundle_sha256
        assert store.sessions_of_sample("none") == []
