"""The one error this room raises for what a person can fix: a slide record that cannot be exported
as it is, or a destination configured wrongly. A PACS or FHIR server that says no is not an error
here: the outbox records it on the instance and retries or shows it (edge_all.standards.outbox)."""

from __future__ import annotations

from edge_all.errors import EdgeAllError


class ExportError(EdgeAllError):
    """A slide, field, cell or destination that the standards cannot carry; the message says which."""
