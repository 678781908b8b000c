"""Text from outside (file names, sample ids, labels) made safe for where edge-all writes it.

Three small rules, each used by every place that writes that kind of output:
- `utf8_safe`: a file name that is not valid UTF-8 reaches Python with its undecodable bytes as
  lone surrogates, which UTF-8 output, JSON and SQLite cannot hold. Each such byte is written as
  the four characters `\\xNN` (0xff becomes `\\xff`), so CSV, JSON and the database stay valid
  UTF-8 and the name stays recognisable.
- `printable`: text shown on a terminal never carries control characters: an escape sequence in
  a sample id could rewrite the screen, a newline could forge a line. Newline, carriage return
  and tab are shown as `\\n`, `\\r`, `\\t`, every other non-printable character as `\\xNN`,
  `\\uNNNN` or `\\UNNNNNNNN` (Unicode's own definition of printable, so bidirectional overrides
  are escaped too).
- `csv_safe`: a spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (or a tab or carriage
  return) as a formula. Following OWASP's CSV injection advice, such a text cell is written with a
  leading `'`, which spreadsheets show as text. Numbers are left alone: -0.5 is a number, not a
  formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def utf8_safe(text: str) -> str:
    """`text` with each undecodable byte (a lone surrogate) written as `\\xNN`: valid UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that does not stand for a byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """`str(text)` for a terminal: valid UTF-8, with every non-printable character escaped."""
    text = utf8_safe(str(text))
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def csv_safe(value: Any) -> Any:
    """A CSV cell: text made valid UTF-8 and never a formula (see the module doc); other values as is."""
    if not isinstance(value, str):
        return value
    value = utf8_safe(value)
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def write_csv_rows(handle: IO[str], columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """The one CSV writer: a header, then every row with each cell through `csv_safe`; the row count.

    Missing keys are left empty, extra keys are an error (csv.DictWriter's rules).
    """
    writer = csv.DictWriter(handle, fieldnames=list(columns))
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({key: csv_safe(value) for key, value in row.items()})
        count += 1
    return count
