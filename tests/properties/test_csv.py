"""The CSV writer by property: `write_csv_rows` (edge_all/safe_text.py), the one writer behind
`results export`, the station's export and, cell by cell, `classify --csv`. Any rows of any values
give a CSV that Python's csv module reads back to the same values (text made valid UTF-8, a formula
guarded by a leading `'`), one row per record, a header first; never an exception. And the whole
path through a real results database: every recorded row exported once. No bug found (issue 26
allows a parser with none its property without a failing one first).
"""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from edge_all.results.export import export_csv
from edge_all.results.store import CAPTURE_COLUMNS, ResultsStore, StoreError
from edge_all.safe_text import FORMULA_STARTS, csv_safe, utf8_safe, write_csv_rows

from .strategies import CHECKS, FEW, huge_numbers, odd_text
from .test_results_rows import INFO, records

COLUMNS = ["sample_id", "label", "confidence", "reason", "n"]
values = st.none() | odd_text | st.floats(allow_nan=False) | st.integers() | huge_numbers | st.booleans()
rows = st.lists(st.dictionaries(st.sampled_from(COLUMNS), values), max_size=8)


def as_read(value) -> str:
    """What a cell holds once written and read back by the csv module."""
    if value is None:
        return ""
    if isinstance(value, str):
        safe = utf8_safe(value)
        return f"'{safe}" if safe.startswith(FORMULA_STARTS) else safe
    return str(value)


@CHECKS
@given(records=rows)
def test_any_rows_read_back_by_the_csv_module_as_written_and_never_a_formula(records):
    handle = io.StringIO(newline="")
    assert write_csv_rows(handle, COLUMNS, records) == len(records)
    text = handle.getvalue()
    text.encode("utf-8")  # valid UTF-8: no lone surrogate reaches the file
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == COLUMNS and len(read) == len(records) + 1
    for line, record in zip(read[1:], records, strict=True):
        assert line == [as_read(record.get(column)) for column in COLUMNS]
        for column, cell in zip(COLUMNS, line, strict=True):
            if isinstance(record.get(column), str):
                assert not cell.startswith(FORMULA_STARTS) or cell.startswith("'")
                assert cell == csv_safe(record[column])


@FEW
@given(data=st.data())
def test_a_results_export_has_every_recorded_row_once(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("export")
    with ResultsStore.open(folder / "results.db") as store:
        session = store.start_session(INFO)
        for index in range(data.draw(st.integers(0, 4))):
            try:
                store.add(data.draw(records(session, index)))
            except StoreError:  # a refused row (test_results_rows' business) is not exported
                continue
        ids = [str(row["id"]) for row in store.captures()]
        assert export_csv(store, folder / "out.csv") == len(ids)
    with open(folder / "out.csv", encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert [line["id"] for line in read] == ids
    assert all(set(line) >= set(CAPTURE_COLUMNS) for line in read)
