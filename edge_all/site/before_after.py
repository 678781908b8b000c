"""The report's "before and after": how the commissioning fields are judged without the site's profile
(each field's own scale and stain, the bundle's fixed quality limits) and with it (the site's scale,
stain, relative limits and threshold). Counted here; read by edge_all.triage.commissioning with the
product's own field judging (edge_all.triage.decision.assess_field)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CELL_COLUMNS = ("cleared", "referred", "ALL-like", "rejected")  # a cell bundle's fields
FIELD_COLUMNS = ("classified", "uncertain", "referred", "rejected")  # a whole-field bundle's statuses


@dataclass(frozen=True)
class BeforeAfter:
    """How many of the fields fell in each column, before and after the profile."""

    columns: tuple[str, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]

    @property
    def fields(self) -> int:
        return sum(self.before)

    @classmethod
    def count(cls, columns: Sequence[str], before: Sequence[str], after: Sequence[str]) -> BeforeAfter:
        """From each field's column before and after (each one of `columns`)."""
        return cls(
            tuple(columns),
            tuple(list(before).count(c) for c in columns),
            tuple(list(after).count(c) for c in columns),
        )
