"""Spreadsheet formula injection (OWASP "CSV Injection"): what a spreadsheet would run is made text."""

from __future__ import annotations

import csv
import io

import pytest

from edge_all.safe_text import csv_safe, write_csv_rows


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+41 22", "-2+3", "@SUM(A1:A2)", "\t=cmd", "\r=cmd", '=HYPERLINK("http://x","y")'],
)
def test_text_that_starts_like_a_formula_is_quoted(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["S-2026-0042", "slide 1", "", " =not first", None, -0.5, 3, 0.25])
def test_other_cells_are_left_alone(value):
    assert csv_safe(value) == value


def test_a_written_file_reads_back_with_every_cell_neutralised():
    handle = io.StringIO()
    rows = [{"sample_id": "=cmd|' /C calc'!A0", "comment": 'a, "quoted"\ncomment', "confidence": -1.5}]
    assert write_csv_rows(handle, ["sample_id", "comment", "confidence"], rows) == 1
    back = list(csv.DictReader(io.StringIO(handle.getvalue())))
    expected = {"sample_id": "'=cmd|' /C calc'!A0", "comment": 'a, "quoted"\ncomment', "confidence": "-1.5"}
    assert back == [expected]
