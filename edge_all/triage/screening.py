"""The screening call for one sample (a slide: many fields of view), sensitivity first.

A majority vote would call a slide with 12 Benign fields and 3 Pre-B fields "Benign", yet a minority
of leukaemia-like fields is exactly what screening must catch. So the call is a rule on counts:

- "refer": at least `min_all_like` fields were confidently classified as an ALL class (Early, Pre,
  Pro), however many Benign fields there are;
- "no ALL-like cells": not one field was, and at least `min_good_fields` good fields were seen;
- "inconclusive": otherwise (too few good fields, or ALL-like cells in fewer fields than refer),
  saying what is missing.

A good field passed the quality gate, looked like the training images, and was classified with
confidence. Referred (unfamiliar or uncertain) and rejected (poor quality) fields are counted and
shown beside the call, never silently dropped. Standard library only: the CLI, the database and the
station all use it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass

from edge_all.triage.status import Status

BENIGN_LABEL = "Benign"
REFER = "refer"
NO_ALL = "no ALL-like cells"
INCONCLUSIVE = "inconclusive"
NOT_SCREENING = "not a screening model"  # the labels have no Benign class (e.g. an ImageNet model)


@dataclass(frozen=True)
class ScreeningRule:
    """How many fields a call needs; chosen by simulated slides (docs/screening.md)."""

    min_all_like: int = 2  # confident ALL-like fields that make a slide "refer"
    min_good_fields: int = 20  # good fields needed before "no ALL-like cells" may be said

    def __post_init__(self) -> None:
        if self.min_all_like < 1 or self.min_good_fields < 1:
            raise ValueError("the screening rule needs at least one field of each kind")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class FieldCounts:
    """What a sample's fields of view came to, by status (and, for good fields, by label)."""

    fields: int = 0  # every recorded field, errors included
    good: int = 0  # classified with confidence, familiar, passed quality
    all_like: int = 0  # good fields called Early, Pre or Pro
    uncertain: int = 0  # classified, but below the confidence threshold
    referred: int = 0  # unlike the images the model was trained on
    rejected: int = 0  # failed the quality gate
    errors: int = 0  # could not be read or classified

    @classmethod
    def of(
        cls, groups: Iterable[tuple[str, str | None, int]], not_all_like: Collection[str] = (BENIGN_LABEL,)
    ) -> FieldCounts:
        """Sum (status, label, number of fields) groups, as a GROUP BY in the database gives them.

        A classified field is ALL-like unless its label is one of `not_all_like` (a whole-field model:
        Benign; a cell model: its labels whose role is not all_like, `not_all_like_labels`)."""
        totals = dict.fromkeys(
            ("fields", "good", "all_like", "uncertain", "referred", "rejected", "errors"), 0
        )
        for status, label, n in groups:
            totals["fields"] += n
            if status == Status.CLASSIFIED:
                totals["good"] += n
                totals["all_like"] += n if label not in not_all_like else 0
            elif status in (Status.UNCERTAIN, Status.REFERRED, Status.REJECTED):
                totals[status] += n
            else:
                totals["errors"] += n
        return cls(**totals)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def not_all_like_labels(label_roles: Mapping[str, str] | None) -> frozenset[str]:
    """The labels a classified field is not ALL-like with: for a cell model (its label roles), every
    label but the all_like ones; for a whole-field model (no roles), Benign. A field of a cell model is
    classified with an all_like label only when one of its cells is ALL-like."""
    if not label_roles:
        return frozenset({BENIGN_LABEL})
    return frozenset(label for label, role in label_roles.items() if role != "all_like")


@dataclass(frozen=True)
class CellCounts:
    """What a sample's white cells came to (cell models only): fields with any, and cells by status."""

    fields_with_cells: int = 0
    cells_all_like: int = 0
    cells_referred: int = 0
    cells_cleared: int = 0
    cells_dropped: int = 0  # not white cells (platelets, debris): not counted as white cells

    @property
    def white_cells(self) -> int:
        return self.cells_all_like + self.cells_referred + self.cells_cleared

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"{self.white_cells} white cells in {self.fields_with_cells} fields: "
            f"{self.cells_all_like} ALL-like, {self.cells_referred} referred, "
            f"{self.cells_cleared} not ALL-like"
            + (f" ({self.cells_dropped} platelets or debris set aside)" if self.cells_dropped else "")
        )


@dataclass(frozen=True)
class ScreeningCall:
    verdict: str  # REFER, NO_ALL, INCONCLUSIVE or NOT_SCREENING
    reason: str  # the verdict in words, with the counts behind it

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def screening_call(
    counts: FieldCounts,
    rule: ScreeningRule,
    labels: Iterable[str] = (BENIGN_LABEL,),
    cell_model: bool = False,
) -> ScreeningCall:
    """The sample's call under `rule`; see the module docstring for the three outcomes. A cell model
    (label roles, bundle format 3) screens by its roles, with or without a Benign class."""
    if BENIGN_LABEL not in labels and not cell_model:
        return ScreeningCall(NOT_SCREENING, f"{NOT_SCREENING}: its labels have no {BENIGN_LABEL} class")
    side = _set_aside(counts)
    if counts.all_like >= rule.min_all_like:
        return ScreeningCall(
            REFER, f"refer: ALL-like cells in {counts.all_like} of {_fields(counts.good, 'good ')}{side}"
        )
    if counts.all_like == 0 and counts.good >= rule.min_good_fields:
        return ScreeningCall(NO_ALL, f"no ALL-like cells in {_fields(counts.good, 'good ')}{side}")
    missing = []
    if counts.all_like:
        missing.append(
            f"ALL-like cells in {_fields(counts.all_like)}, fewer than the {rule.min_all_like} that refer"
        )
    missing.append(f"{_fields(counts.good, 'good ')} of the {rule.min_good_fields} needed")
    return ScreeningCall(INCONCLUSIVE, f"inconclusive: {'; '.join(missing)}{side}")


def _fields(count: int, kind: str = "") -> str:
    """'1 good field', '3 good fields': one way to say a count."""
    return f"{count} {kind}field{'' if count == 1 else 's'}"


def _set_aside(counts: FieldCounts) -> str:
    """The fields that did not count, so a reader sees why a slide needs more fields."""
    parts = [
        f"{n} {what}"
        for n, what in (
            (counts.referred, "referred (unfamiliar)"),
            (counts.uncertain, "uncertain"),
            (counts.rejected, "rejected for quality"),
            (counts.errors, "unreadable"),
        )
        if n
    ]
    return f" ({', '.join(parts)})" if parts else ""
