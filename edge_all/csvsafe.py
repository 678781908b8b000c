"""Spreadsheet-safe CSV cells: text a spreadsheet would run as a formula is made plain text.

OWASP's "CSV Injection": Excel, LibreOffice Calc and Google Sheets treat a cell that begins with
= + - @ a tab or a carriage return as a formula, so a sample id or a comment typed as
`=HYPERLINK(...)` would run when a doctor opens the export. Such text is prefixed with a single
quote, which the spreadsheet shows as text; numbers are left as they are (a negative number is
data, not a formula). The csv module's own quoting keeps separators inside a cell harmless.
Standard library only: every CSV that edge-all writes goes through here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, with text that starts like a formula neutralised by a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: safe_cell(value) for key, value in row.items()}


def write_rows(handle: IO[str], columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write a header and the rows (missing keys left empty, extra keys an error); returns the count."""
    writer = csv.DictWriter(handle, fieldnames=list(columns))
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(safe_row(row))
        count += 1
    return count
