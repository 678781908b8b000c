"""What one hub serves with, as `edge-all hub` was told."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubConfig:
    database: str  # an SQLAlchemy URL: sqlite:///DIR/hub.db or postgresql://...
    pictures: str  # a folder, or s3://BUCKET
    s3_endpoint: str | None = None
    name: str = "hospital"
    allowed_hosts: tuple[str, ...] = ()  # beyond loopback: the names this hub answers to
    migrate: bool = True  # bring the tables up to date at start (SQLite; PostgreSQL's owner does it)
    standards: str | None = None  # the settings file of the PACS and FHIR endpoints (standards_settings)
