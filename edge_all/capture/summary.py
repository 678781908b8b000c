"""Per-sample summary over its fields of view: counts, and a majority call that refuses to guess.

Only confident classifications vote. A tie, or a sample with nothing classified, is "no call":
the slide goes to a specialist rather than to a coin toss.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NO_CALL = "no call"
UNCERTAIN_TEXT = "uncertain: refer to a specialist"
MAX_LABELS_SHOWN = 10


@dataclass
class SampleSummary:
    sample_id: str | None
    frames: int = 0
    per_class: Counter[str] = field(default_factory=Counter)  # confident calls only
    uncertain: int = 0
    rejected: int = 0
    errors: int = 0
    reject_reasons: Counter[str] = field(default_factory=Counter)  # by reason code

    @property
    def classified(self) -> int:
        return sum(self.per_class.values())

    @property
    def call(self) -> str:
        """The majority label over confidently classified fields, or NO_CALL on a tie or none."""
        ranked = self.per_class.most_common(2)
        if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
            return NO_CALL
        return ranked[0][0]

    def add(self, row: Mapping[str, Any]) -> None:
        self.frames += 1
        status = row["status"]
        if status == "classified":
            self.per_class[row["label"]] += 1
        elif status == "uncertain":
            self.uncertain += 1
        elif status == "rejected":
            self.rejected += 1
            self.reject_reasons[str(row.get("reason") or "").split(":")[0]] += 1
        else:
            self.errors += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "frames": self.frames,
            "classified": self.classified,
            "per_class": dict(self.per_class),
            "uncertain": self.uncertain,
            "rejected": self.rejected,
            "reject_reasons": dict(self.reject_reasons),
            "errors": self.errors,
            "call": self.call,
        }

    def describe(self, labels: Iterable[str] = ()) -> str:
        """A few human lines: the counts and the call."""
        name = self.sample_id if self.sample_id is not None else "(no sample id)"
        labels = list(labels)
        # A short label list (the 4 ALL classes) is shown whole, zeros included; a long one
        # (ImageNet) only where something was called.
        shown = labels if len(labels) <= MAX_LABELS_SHOWN else []
        order = list(dict.fromkeys([*shown, *sorted(self.per_class)]))
        classes = ", ".join(f"{label} {self.per_class.get(label, 0)}" for label in order) or "none"
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reject_reasons.items()))
        lines = [
            f"sample {name}: {self.frames} fields of view",
            f"  classified {self.classified} ({classes})",
            f"  uncertain {self.uncertain}, rejected {self.rejected}" + (f" ({reasons})" if reasons else "")
            + f", errors {self.errors}",
            f"  majority call: {self.call}",
        ]  # fmt: skip
        return "\n".join(lines)


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[SampleSummary]:
    """One summary per sample id, in order of first appearance."""
    summaries: dict[str | None, SampleSummary] = {}
    for row in rows:
        sample = row["sample_id"]
        if sample not in summaries:
            summaries[sample] = SampleSummary(sample)
        summaries[sample].add(row)
    return list(summaries.values())
