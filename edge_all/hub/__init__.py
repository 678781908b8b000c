"""The hospital hub: `edge-all hub`, many clinics' slides, one worklist, personal accounts, sign-off.

storage.py holds the records (SQLAlchemy Core, SQLite or PostgreSQL, migrated by Alembic), blobs.py
the pictures (content-addressed, on disk or S3), ingest.py and api.py the devices' side, app.py the
people's pages.
"""
