"""The hospital's standards: a signed-off slide as DICOM (VL microscopic images and an SR of the
findings) for a PACS, and as an HL7 FHIR R4 DiagnosticReport for the record (docs/standards.md).

The hub maps its records onto the frozen dataclasses of `records` and calls `slide_instances`,
`fhir_report` and the `outbox`; this room imports nothing of edge_all but the shared leaves.
"""
