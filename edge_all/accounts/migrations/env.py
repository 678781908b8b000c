"""Alembic's environment for edge-all: always run from edge_all.accounts.migrate, on its connection."""

from __future__ import annotations

from alembic import context

from edge_all.accounts.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
