"""Deterministic DICOM UIDs, so that sending a slide again makes the same instances (idempotent).

Every UID is `2.25.<the integer of a name-based UUID>` (DICOM PS3.5 B.2: a UID under the 2.25 arc
from a UUID; RFC 4122 version 5, SHA-1 name-based). The names are the hub's record ids, inside a
namespace of the hub itself (its installation id), inside edge-all's fixed namespace below:
two hubs that both have a "slide 1" still make different UIDs, one hub always makes the same one.
No organisation root needs registering; at most 44 characters, well under DICOM's 64.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from edge_all.standards.errors import ExportError

# edge-all's UID namespace: made once (uuid4), fixed forever; changing it changes every UID.
EDGE_ALL_NAMESPACE = uuid.UUID("3fc67d3e-1c83-464b-abee-ebb78c7102bb")


def uid_from_uuid(value: uuid.UUID) -> str:
    return f"2.25.{value.int}"


@dataclass(frozen=True)
class UidScheme:
    """The UIDs of one hub: `hub_id` is the hub's installation id (any stable text, e.g. a UUID)."""

    hub_id: str

    def __post_init__(self) -> None:
        if not self.hub_id.strip():
            raise ExportError("the hub id for DICOM UIDs is empty")

    @property
    def namespace(self) -> uuid.UUID:
        return uuid.uuid5(EDGE_ALL_NAMESPACE, f"hub/{self.hub_id}")

    def uid(self, kind: str, *record_ids: str) -> str:
        """The UID of `kind` ("study", "image", ...) for these record ids; '/' in an id is escaped."""
        name = "/".join([kind, *(part.replace("%", "%25").replace("/", "%2F") for part in record_ids)])
        return uid_from_uuid(uuid.uuid5(self.namespace, name))

    # One study and two series per slide (the images, and the SR); one instance per field and sign-off.
    def study(self, slide_id: str) -> str:
        return self.uid("study", slide_id)

    def image_series(self, slide_id: str) -> str:
        return self.uid("image-series", slide_id)

    def image(self, slide_id: str, field_id: str) -> str:
        return self.uid("image", slide_id, field_id)

    def frame_of_reference(self, slide_id: str) -> str:
        return self.uid("frame-of-reference", slide_id)

    def sr_series(self, slide_id: str) -> str:
        return self.uid("sr-series", slide_id)

    def sr(self, slide_id: str, sign_off_id: str) -> str:
        return self.uid("sr", slide_id, sign_off_id)

    def device(self) -> str:
        """The hub as the SR's observing device."""
        return self.uid("device")

    def tracking(self, slide_id: str, field_id: str, cell_index: int) -> str:
        return self.uid("cell", slide_id, field_id, str(cell_index))
