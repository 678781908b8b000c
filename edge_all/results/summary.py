"""Per-sample summary over its fields of view: counts by status and class, and the screening call.

The call is edge_all.triage.screening's sensitivity-first rule, not a majority vote: a few confidently
ALL-like fields refer a slide however many Benign fields it also has.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge_all.safe_text import printable
from edge_all.triage.screening import (
    BENIGN_LABEL,
    CellCounts,
    FieldCounts,
    ScreeningCall,
    ScreeningRule,
    screening_call,
)
from edge_all.triage.status import FLAGGED, Status

UNCERTAIN_TEXT = "uncertain: refer to a specialist"
REFERRED_TEXT = "referred: unlike the images this model was trained on"
MAX_LABELS_SHOWN = 10
DEFAULT_RULE = ScreeningRule()


@dataclass
class SampleSummary:
    sample_id: str | None
    per_status: Counter[str] = field(default_factory=Counter)
    per_class: Counter[str] = field(default_factory=Counter)  # good (confident, familiar) fields only
    reject_reasons: Counter[str] = field(default_factory=Counter)  # by reason code
    rule: ScreeningRule = DEFAULT_RULE
    labels: tuple[str, ...] = ()
    # The labels a classified field is not ALL-like with (a cell model: every label but its all_like
    # ones, edge_all.triage.screening.not_all_like_labels), and a cell model's white cells.
    not_all_like: frozenset[str] = frozenset({BENIGN_LABEL})
    cells: CellCounts | None = None

    @property
    def counts(self) -> FieldCounts:
        groups = [(status, None, n) for status, n in self.per_status.items() if status != Status.CLASSIFIED]
        groups += [(Status.CLASSIFIED, label, n) for label, n in self.per_class.items()]
        return FieldCounts.of(groups, self.not_all_like)

    @property
    def call(self) -> ScreeningCall:
        return screening_call(self.counts, self.rule, self.labels, self.cells is not None)

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one recorded field (a capture row)."""
        self.count(row["status"], row["label"], str(row.get("reason") or "").split(":")[0])

    def count(self, status: str, label: str | None, reject_code: str | None, n: int = 1) -> None:
        """Count `n` fields of one status (and label, and for rejected fields, reason code)."""
        self.per_status[status] += n
        if status == Status.CLASSIFIED:
            self.per_class[label] += n
        elif status == Status.REJECTED:
            self.reject_reasons[reject_code or ""] += n

    def to_dict(self) -> dict[str, Any]:
        call = self.call
        return {
            "sample_id": self.sample_id,
            **self.counts.to_dict(),
            "per_class": dict(self.per_class),
            "reject_reasons": dict(self.reject_reasons),
            "verdict": call.verdict,
            "call": call.reason,
            **({"cells": self.cells.to_dict()} if self.cells is not None else {}),
        }

    def describe(self) -> str:
        """A few human lines: the counts and the call (sample id and labels made `printable`)."""
        name = self.sample_id if self.sample_id is not None else "(no sample id)"
        counts = self.counts
        # A short label list (the 4 ALL classes) is shown whole, zeros included; a long one
        # (ImageNet) only where something was called.
        shown = list(self.labels) if len(self.labels) <= MAX_LABELS_SHOWN else []
        order = list(dict.fromkeys([*shown, *sorted(self.per_class)]))
        classes = ", ".join(f"{label} {self.per_class.get(label, 0)}" for label in order) or "none"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reject_reasons.items()))
        lines = [
            f"sample {name}: {counts.fields} fields of view",
            f"  good {counts.good} ({classes})",
            f"  referred {counts.referred}, uncertain {counts.uncertain}, rejected {counts.rejected}"
            + (f" ({reasons})" if reasons else "") + f", errors {counts.errors}",
            *([f"  {self.cells.describe()}"] if self.cells is not None else []),
            f"  screening call: {self.call.reason}",
        ]  # fmt: skip
        return "\n".join(printable(line) for line in lines)


def flagged_fields(sample: Mapping[str, Any]) -> int:
    """How many of a sample's fields a specialist should look at first: those called ALL-like and those
    of a FLAGGED status, from the sample's row of counts (ResultsStore.sample)."""
    return int(sample["all_like"]) + sum(int(sample[status.value]) for status in FLAGGED)


def summarize(
    rows: Iterable[Mapping[str, Any]], labels: Iterable[str] = (), rule: ScreeningRule = DEFAULT_RULE
) -> list[SampleSummary]:
    """One summary per sample id, in order of first appearance."""
    summaries: dict[str | None, SampleSummary] = {}
    labels = tuple(labels)
    for row in rows:
        sample = row["sample_id"]
        if sample not in summaries:
            summaries[sample] = SampleSummary(sample, rule=rule, labels=labels)
        summaries[sample].add(row)
    return list(summaries.values())
