"""The results database by property: whatever a capture records (labels, confidences, probabilities,
quality measures, odd unicode sample ids, origins and reasons, a cell model's cells with their boxes),
written through the real store (edge_all/results/store.py) into a real SQLite file, comes back from
the store's readers (capture, cells, captures, sample) as it went in, or is refused at the write
with one StoreError line, and nothing else is lost: the rows before it are all still there.
"""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from edge_all.results.judged import JudgedCell
from edge_all.results.store import (
    CaptureRecord,
    ResultsStore,
    SessionInfo,
    StoreError,
    as_unrecordable,
    non_finite_numbers,
)
from edge_all.triage.cells import CellStatus
from edge_all.triage.status import Status

from .strategies import FEW, answer, huge_numbers, non_finite, odd_text

LABELS = ["Benign", "Early", "Pre", "Pro"]
INFO = SessionInfo(
    started_at="2026-01-01T00:00:00+00:00", source="folder:/slides", sample_id=None, model="bundle",
    bundle_sha256="ab" * 32, labels=LABELS, threshold=0.6, quality_thresholds=None, edge_all_version="test",
)  # fmt: skip
numbers = st.floats() | huge_numbers.map(float) | non_finite  # REAL columns: floats (NaN, infinity)
optional_numbers = st.none() | numbers
boxes = st.tuples(*[st.integers(-(2**31), 2**31)] * 4)
cells = st.builds(
    JudgedCell, boxes, odd_text, numbers, st.sampled_from([str(s) for s in CellStatus]),
    st.none() | odd_text, optional_numbers,
)  # fmt: skip


@st.composite
def records(draw, session_id: int, index: int) -> CaptureRecord:
    label = draw(st.none() | st.sampled_from(LABELS) | odd_text)
    return CaptureRecord(
        session_id=session_id, captured_at=draw(odd_text), sample_id=draw(st.none() | odd_text),
        source="folder:/slides", frame_index=index, origin=draw(odd_text),
        status=draw(st.sampled_from([str(s) for s in Status])), bundle_sha256="ab" * 32,
        image_path=draw(st.none() | odd_text), label=label, confidence=draw(optional_numbers),
        probabilities=draw(st.none() | st.dictionaries(odd_text, numbers, max_size=4)),
        quality=draw(st.dictionaries(st.sampled_from(["brightness", "contrast", "clipped", "stained", "focus",
                                                      "glass"]), numbers)),
        reason=draw(st.none() | odd_text), inference_ms=draw(optional_numbers),
        unfamiliarity=draw(optional_numbers), um_per_px=draw(optional_numbers),
        scale_source=draw(st.none() | st.sampled_from(["given", "site", "estimated", "bundle-free"])),
        cells=tuple(draw(st.lists(cells, max_size=3))),
    )  # fmt: skip


def same(stored, given) -> bool:
    """SQLite's REAL is a double: equal, NaN included (which must not come back as NULL)."""
    if isinstance(given, float) and math.isnan(given):
        return isinstance(stored, float) and math.isnan(stored)
    return stored == given


def check_row(store: ResultsStore, stored_id: int, record: CaptureRecord) -> None:
    row = store.capture(stored_id)
    assert row is not None
    for name in ("captured_at", "sample_id", "origin", "status", "image_path", "label", "reason",
                 "confidence", "inference_ms", "unfamiliarity", "um_per_px", "scale_source"):  # fmt: skip
        assert same(row[name], getattr(record, name)), (name, row[name], getattr(record, name))
    for name, value in record.quality.items():
        assert same(row[name], value), (name, row[name], value)
    if record.probabilities is None:
        assert row["probabilities"] is None
    else:
        back = json.loads(row["probabilities"])
        assert back.keys() == record.probabilities.keys()
        assert all(same(back[k], v) for k, v in record.probabilities.items()), (back, record.probabilities)
    read_cells = store.cells(stored_id)
    assert len(read_cells) == len(record.cells)
    for read, cell in zip(read_cells, record.cells, strict=True):
        assert (
            tuple(read["box"]) == cell.box and read["label"] == cell.label and read["status"] == cell.status
        )
        assert same(read["confidence"], cell.confidence) and read["reason"] == cell.reason
        assert same(read["unfamiliarity"], cell.unfamiliarity)


@FEW
@given(data=st.data())
def test_recorded_rows_read_back_as_they_went_in_or_are_refused_in_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("db") / "results.db"
    kept: list[tuple[int, CaptureRecord]] = []
    with ResultsStore.open(path) as store:
        session = store.start_session(INFO)
        for index in range(data.draw(st.integers(1, 4))):
            record = data.draw(records(session, index))
            stored = answer(lambda record=record: store.add(record), StoreError, f"{path}: ")
            if stored is not None:
                kept.append((stored.id, record))
        for stored_id, record in kept:  # a refused row loses nothing before or after it
            check_row(store, stored_id, record)
        assert [row["id"] for row in store.captures()] == [stored_id for stored_id, _ in kept]
    with ResultsStore.open(path, create=False) as store:  # and from the file, by a new reader
        for stored_id, record in kept:
            check_row(store, stored_id, record)


@FEW
@given(data=st.data())
def test_a_frame_with_a_number_no_database_holds_is_recorded_as_an_error_naming_it(tmp_path_factory, data):
    """What a capture does (edge_all/capture/session.py): such a frame is recorded as an error, and
    the capture goes on, instead of the store's refusal stopping the slide."""
    path = tmp_path_factory.mktemp("db") / "results.db"
    with ResultsStore.open(path) as store:
        record = data.draw(records(store.start_session(INFO), 0))
        problems = non_finite_numbers(record)
        if problems:
            record = as_unrecordable(record, problems)
            assert non_finite_numbers(record) == []
        stored = answer(lambda: store.add(record), StoreError, f"{path}: ")
        if stored is None:  # refused for another reason (text SQLite cannot hold): not for a number
            return
        check_row(store, stored.id, record)
        if problems:
            row = store.capture(stored.id)
            assert row["status"] == "error" and problems[0] in row["reason"]
