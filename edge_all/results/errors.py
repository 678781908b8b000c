"""What can go wrong with the results database, as the one-line errors every part of edge-all raises.

StorageFull is the shared one (edge_all.errors): a full disk is the same error wherever it is met.
"""

from __future__ import annotations

from edge_all.errors import EdgeAllError, StorageFull

__all__ = ["DatabaseGone", "StorageFull", "StoreError"]


class StoreError(EdgeAllError):
    """The database cannot be opened, is from an unknown schema, or lacks what was asked for."""


class DatabaseGone(StoreError):
    """The database file was deleted or replaced while it was open; what it held was rescued."""
