"""Who may do what: people's accounts, roles, sessions, device credentials and the append-only audit.

One implementation for the clinic station (SQLite) and the hospital hub (SQLite or PostgreSQL):
SQLAlchemy Core over whichever database the caller opens, the tables migrated by Alembic. It sits
below the station and the hub and imports neither.
"""
