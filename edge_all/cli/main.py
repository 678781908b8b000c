"""The one `edge-all` command line. Each command group lives in its own module and registers itself.

The device's own commands are registered here. The stages above it (training/, convert/) declare
theirs in the `edge_all.commands` entry-point group (pyproject.toml), so this package imports
nothing from them, and a device install still lists train, evaluate and convert: run there, each
says which extra it needs. Command modules import only typer and the standard library at module
level, so `edge-all --help` stays instant on a Raspberry Pi.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from edge_all.cli import benchmark, capture, classify, commission, hub, results, serve, sync
from edge_all.errors import EdgeAllError
from edge_all.exit_codes import EPILOG
from edge_all.safe_text import printable

COMMANDS_GROUP = "edge_all.commands"  # each entry point is a register(app) function

app = typer.Typer(
    name="edge-all",
    help="Screen blood smear images for Acute Lymphoblastic Leukemia, offline, on a small device.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    """The device's commands first, then those of the installed stages (convert, train, evaluate)."""
    for module in (classify, capture, commission, benchmark, results, serve, sync, hub):
        module.register(app)
    for entry in entry_points(group=COMMANDS_GROUP):
        entry.load()(app)


_register_commands()


def main() -> None:
    """Run the command; an EdgeAllError from any of them becomes one `error:` line and its exit code."""
    try:
        app()
    except EdgeAllError as exc:
        typer.echo(f"error: {printable(exc)}", err=True)
        raise SystemExit(int(exc.exit_code)) from None
