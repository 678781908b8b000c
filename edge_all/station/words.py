"""Plain words for what a person reads at the station: what a field's result and a slide's call mean,
and what to do next.

The engine records codes and figures (a status, "out_of_focus: focus 12.0 < 40", focus 380.8); a
technician at the microscope needs to know whether the field was good, what the answer means and
what to do now; the figures stay one click away. The live view gets these words from the server
(the capture state's JSON), so the page and the script cannot say different things.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from edge_all.triage.screening import BENIGN_LABEL, INCONCLUSIVE, NO_ALL, REFER
from edge_all.triage.status import Status

# A rejected field's reason code -> (what is wrong, what to do).
POOR_PICTURE = {
    "too_dark": ("too dark", "Turn the light up or open the diaphragm, then capture the field again."),
    "too_bright": ("too bright", "Turn the light down, then capture the field again."),
    "clipped": ("over-exposed: parts of the picture are pure white", "Turn the light down a little."),
    "empty_field": ("almost empty: few cells or no contrast", "Move to an area with cells."),
    "out_of_focus": ("out of focus", "Refocus, then capture the field again."),
    "no_stained_cells": (
        "no stained cells found",
        "Move to another area; if every field says this, check the stain.",
    ),
    "odd_shape": ("not a microscope field (the picture has an odd shape)", "Check the camera settings."),
}
QUALITY_FIGURES = (
    ("focus", "focus", 0),
    ("brightness", "brightness", 0),
    ("contrast", "contrast", 1),
    ("stained", "stained area", 3),
    ("clipped", "clipped", 3),
)


@dataclass(frozen=True)
class FieldWords:
    """A field's result for a person: a headline, what it means, what to do next, and its quality."""

    headline: str  # "ALL-like: Pre 91%"
    meaning: str
    next_step: str
    tone: str  # benign, all-like, uncertain, referred, rejected, error (the label's colour)
    quality: str  # "good", or "poor: out of focus"
    figures: str  # the numbers behind the quality, for whoever asks

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class CallWords:
    """A slide's screening call for a person: a headline and what to do next."""

    headline: str
    next_step: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def many(count: int, word: str, plural: str | None = None) -> str:
    """One way to say a count: '1 field', '2 fields', '0 fields'."""
    return f"{count} {word if count == 1 else plural or word + 's'}"


# The keyboard review's key for each class, in label order: digits, then letters that are not
# already shortcuts (j, k: next, previous; 0: not assessable), so a model with more classes still fits.
CLASS_KEYS = "123456789abcdefghilmopqrtuvwxyz"


def review_keys(count: int) -> list[str]:
    """The key of each of `count` classes (an empty string once the keys run out: click instead)."""
    return [CLASS_KEYS[i] if i < len(CLASS_KEYS) else "" for i in range(count)]


def _pct(value: float | None) -> str:
    return "" if value is None else f" {100 * value:.0f}%"


def _code(reason: str | None) -> str:
    return (reason or "").partition(":")[0].strip()


def quality_figures(field: dict[str, Any]) -> str:
    """The quality numbers of a field (a capture row, or the live view's `quality` mapping)."""
    values = field.get("quality") or field
    parts = []
    for key, name, digits in QUALITY_FIGURES:
        value = values.get(key)
        if value is not None:
            parts.append(f"{name} {value:.{digits}f}")
    if field.get("unfamiliarity") is not None:
        parts.append(f"unfamiliarity {field['unfamiliarity']:.2f} (1.00 is the limit)")
    return ", ".join(parts) or "not measured"


def field_words(field: dict[str, Any], not_all_like: Collection[str] = (BENIGN_LABEL,)) -> FieldWords:
    """What a field's result means: `field` is a capture row (or the live view's last field);
    `not_all_like`: the labels its sample's roles do not count as ALL-like (ResultsStore.not_all_like:
    a cell model's neutrophil is normal-looking, as the slide call counts it)."""
    status, label, confidence = field.get("status"), field.get("label"), field.get("confidence")
    figures = quality_figures(field)
    good = "good"
    if status == Status.CLASSIFIED and label in not_all_like:
        return FieldWords(
            f"Normal-looking ({label}){_pct(confidence)}", "No ALL-like cells in this field.",
            "Move to the next field.", "benign", good, figures,
        )  # fmt: skip
    if status == Status.CLASSIFIED:
        return FieldWords(
            f"ALL-like: {label}{_pct(confidence)}",
            f"Cells like leukaemia precursors ({label}). This slide goes to a specialist.",
            "Go on to the next field: the specialist needs enough fields.", "all-like", good, figures,
        )  # fmt: skip
    if status == Status.UNCERTAIN:
        return FieldWords(
            f"Not sure (best guess {label}{_pct(confidence)})",
            "The model cannot tell what this field shows; a specialist looks at it.",
            "Move to the next field.", "uncertain", good, figures,
        )  # fmt: skip
    if status == Status.REFERRED:
        guess = f" (best guess {label}{_pct(confidence)})" if label else ""
        return FieldWords(
            f"Unfamiliar{guess}",
            "This field looks unlike the pictures the model learned from (light, stain, magnification, "
            "or a cell it does not know), so its answer does not count; a specialist looks at it.",
            "Check the light and the focus, then move to the next field. If many fields say this, check "
            "the stain and the objective.",
            "referred", good, figures,
        )  # fmt: skip
    if status == Status.REJECTED:
        what, advice = POOR_PICTURE.get(_code(field.get("reason")), ("the picture is not good enough", ""))
        return FieldWords(
            f"Poor picture: {what}", "Not classified: the picture is not good enough to read.",
            advice or "Capture the field again, or move to another.", "rejected", f"poor: {what}", figures,
        )  # fmt: skip
    return FieldWords(
        "Not read", f"The field could not be read ({field.get('reason') or 'no reason given'}).",
        "Check the camera; if it happens again, see Troubleshooting in docs/deploy.md.", "error",
        "not measured", figures,
    )  # fmt: skip


def call_words(sample: dict[str, Any] | None) -> CallWords:
    """What a slide's screening call means and what to do next (`sample` is a samples row)."""
    if not sample:
        return CallWords("No fields yet.", "Start capturing fields.")
    verdict, call = sample["verdict"], sample["call"]
    if verdict == REFER:
        return CallWords(
            "Refer: this slide goes to a specialist.",
            f"The model saw ALL-like cells ({call.removeprefix('refer: ')}). A specialist reviews the slide "
            "before anything is decided.",
        )
    if verdict == NO_ALL:
        return CallWords(
            f"No ALL-like cells seen ({call}).",
            "A screening aid, not a diagnosis: a specialist still reviews the slide.",
        )
    if verdict == INCONCLUSIVE:
        return CallWords(
            "Not enough yet to say.",
            f"{call.removeprefix('inconclusive: ').capitalize()}. Capture more good fields: move the stage "
            "to new areas of the slide.",
        )
    return CallWords(call, "This model cannot screen: see the Station page.")


def outcome_words(outcome: str | None, stopped_by: str | None) -> str:
    """Why a capture ended, in words ("stopped by signal" is the engine's word for a stop request)."""
    if not outcome:
        return ""
    if outcome == "stopped by signal":
        return f"Stopped: {stopped_by or 'asked to stop'}. Every field taken so far is recorded."
    if "end after" in outcome:
        return f"Finished: the video ended ({outcome})."
    return outcome


def counts_words(sample: dict[str, Any] | None) -> str:
    """A slide's counts in one line, one way of counting ('1 field', '2 fields'), zeros left out."""
    if not sample:
        return ""
    parts = [f"{sample['good']} good" + (f" ({sample['all_like']} ALL-like)" if sample["all_like"] else "")]
    for key, what in (("uncertain", "not sure"), ("referred", "unfamiliar"), ("rejected", "poor picture"),
                      ("errors", "not read")):  # fmt: skip
        if sample[key]:
            parts.append(f"{sample[key]} {what}")
    return f"{many(sample['fields'], 'field')} on the slide: {', '.join(parts)}"
