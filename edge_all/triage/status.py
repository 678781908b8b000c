"""The status of a judged field of view: one word for each outcome, and the outcomes that are flagged.

Every command, the database, the summaries, the live view, the station and the exports use these
words; they are what the results database's `status` column holds (str-valued, so a Status is the
text itself). Standard library only.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    CLASSIFIED = "classified"  # passed the quality gate, familiar, confident: a screening answer
    UNCERTAIN = "uncertain"  # classified, but below the confidence threshold
    REFERRED = "referred"  # unlike the images the model was trained on: its class means little
    REJECTED = "rejected"  # failed the quality gate: the model did not run
    ERROR = "error"  # could not be read or classified

    def __str__(self) -> str:  # the word itself, as format() gives it, on every Python
        return self.value


# The fields a specialist should look at first, besides the classified ones called ALL-like (any class
# but Benign, edge_all.triage.screening): the slide page's "flagged" view and the report's.
FLAGGED = frozenset({Status.UNCERTAIN, Status.REFERRED})
