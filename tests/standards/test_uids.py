"""UIDs are deterministic (re-sending makes the same instances), unique per hub and kind, and valid."""

from __future__ import annotations

import re

import pytest
from pydicom.uid import UID

from edge_all.standards.errors import ExportError
from edge_all.standards.uids import UidScheme

UID_PATTERN = re.compile(r"^2\.25\.(0|[1-9][0-9]*)$")


def test_the_same_record_gives_the_same_uid_in_a_new_scheme():
    assert UidScheme("hub-a").image("slide-1", "field-1") == UidScheme("hub-a").image("slide-1", "field-1")


def test_uids_differ_by_hub_kind_and_record():
    uids = {
        UidScheme("hub-a").image("slide-1", "field-1"),
        UidScheme("hub-b").image("slide-1", "field-1"),
        UidScheme("hub-a").image("slide-1", "field-2"),
        UidScheme("hub-a").image("slide-2", "field-1"),
        UidScheme("hub-a").sr("slide-1", "field-1"),
        UidScheme("hub-a").image("slide-1/field-1", ""),  # a slash in an id cannot forge another name
    }
    assert len(uids) == 6


def test_uids_are_valid_2_25_uids_within_64_characters():
    scheme = UidScheme("hub-a")
    for uid in (
        scheme.study("s"),
        scheme.image("s", "f" * 200),
        scheme.tracking("s", "f", 999),
        scheme.device(),
    ):
        assert UID_PATTERN.match(uid) and len(uid) <= 64 and UID(uid).is_valid


def test_an_empty_hub_id_is_refused():
    with pytest.raises(ExportError, match="hub id"):
        UidScheme("  ")
