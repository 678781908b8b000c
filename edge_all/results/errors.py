"""What can go wrong with the results database, as the one-line errors every part of edge-all raises."""

from __future__ import annotations

from edge_all.errors import EdgeAllError


class StoreError(EdgeAllError):
    """The database cannot be opened, is from an unknown schema, or lacks what was asked for."""


class StorageFull(EdgeAllError):
    """The disk (or the database's size limit) is full: the capture must stop."""


class DatabaseGone(StoreError):
    """The database file was deleted or replaced while it was open; what it held was rescued."""
