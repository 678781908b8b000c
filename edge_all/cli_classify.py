"""Placeholder: this command group is being built (its owner replaces this file)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `edge-all` app."""
