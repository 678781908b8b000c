"""The per-sample screening call: each branch of the rule, and what a reader is told."""

from __future__ import annotations

import pytest

from edge_all.triage.screening import (
    INCONCLUSIVE,
    NO_ALL,
    NOT_SCREENING,
    REFER,
    FieldCounts,
    ScreeningRule,
    screening_call,
)

LABELS = ("Benign", "Early", "Pre", "Pro")
RULE = ScreeningRule(min_all_like=2, min_good_fields=10)


def counts(**groups: int) -> FieldCounts:
    """FieldCounts from `label=n` for good fields and `status=n` for the rest."""
    statuses = ("uncertain", "referred", "rejected", "error")
    return FieldCounts.of(
        [(name, None, n) for name, n in groups.items() if name in statuses]
        + [("classified", name, n) for name, n in groups.items() if name not in statuses]
    )


def test_counts_sum_groups_by_status_and_label():
    assert counts(Benign=5, Pre=2, Pro=1, uncertain=3, referred=4, rejected=6, error=1) == FieldCounts(
        fields=22, good=8, all_like=3, uncertain=3, referred=4, rejected=6, errors=1
    )


def test_refer_as_soon_as_enough_all_like_fields_however_many_benign():
    call = screening_call(counts(Benign=40, Early=1, Pro=1), RULE, LABELS)
    assert call.verdict == REFER
    assert call.reason == "refer: ALL-like cells in 2 of 42 good fields"


def test_refer_does_not_wait_for_the_good_field_minimum():
    assert screening_call(counts(Pre=2), RULE, LABELS).verdict == REFER


def test_negative_only_after_enough_good_fields():
    call = screening_call(counts(Benign=10, rejected=3), RULE, LABELS)
    assert call.verdict == NO_ALL
    assert call.reason == "no ALL-like cells in 10 good fields (3 rejected for quality)"
    assert screening_call(counts(Benign=9), RULE, LABELS).verdict == INCONCLUSIVE


def test_one_all_like_field_below_the_minimum_is_inconclusive_and_says_so():
    call = screening_call(counts(Benign=30, Pre=1), RULE, LABELS)
    assert call.verdict == INCONCLUSIVE
    assert "ALL-like cells in 1 field, fewer than the 2 that refer" in call.reason


def test_inconclusive_names_what_is_missing_and_what_was_set_aside():
    call = screening_call(counts(Benign=4, referred=5, uncertain=2, rejected=1, error=1), RULE, LABELS)
    assert call.verdict == INCONCLUSIVE
    assert call.reason == (
        "inconclusive: 4 good fields of the 10 needed "
        "(5 referred (unfamiliar), 2 uncertain, 1 rejected for quality, 1 unreadable)"
    )


def test_uncertain_and_referred_all_like_guesses_never_count_as_all_like():
    call = screening_call(counts(Benign=10, uncertain=5, referred=5), RULE, LABELS)
    assert call.verdict == NO_ALL


def test_a_model_without_a_benign_class_makes_no_screening_call():
    assert screening_call(counts(Pre=5), RULE, ("tench", "goldfish")).verdict == NOT_SCREENING


def test_a_rule_needs_at_least_one_field():
    with pytest.raises(ValueError):
        ScreeningRule(min_all_like=0)
