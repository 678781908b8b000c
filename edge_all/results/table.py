"""The rows table of `edge-all results show`: one fixed-width line per recorded field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from edge_all.safe_text import printable


def rows_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A fixed-width table of capture rows for `results show`."""
    header = "{:>6}  {:<23}  {:<12}  {:<10}  {:<10}  {:>5}  detail".format(
        "id", "captured (UTC)", "sample", "status", "label", "conf"
    )
    lines = [header]
    for row in rows:
        confidence = f"{row['confidence']:.2f}" if row["confidence"] is not None else "-"
        detail = row["reason"] or row["origin"]
        lines.append(
            printable(
                f"{row['id']:>6}  {row['captured_at'][:23]:<23}  {str(row['sample_id'] or '-'):<12}  "
                f"{row['status']:<10}  {str(row['label'] or '-'):<10}  {confidence:>5}  {detail}"
            )
        )
    return "\n".join(lines)
