"""The one `edge-all` command line. Each command group lives in its own module and registers itself.

Commands that need TensorFlow (train, evaluate, convert) import it inside the command, so the
device runtime starts without it.
"""

from __future__ import annotations

import typer

from edge_all.errors import EdgeAllError
from edge_all.exit_codes import EPILOG

app = typer.Typer(
    name="edge-all",
    help="Screen blood smear images for Acute Lymphoblastic Leukemia, offline, on a small device.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    from convert import cli as convert_cli
    from edge_all import cli_benchmark, cli_capture, cli_classify
    from training import cli as training_cli

    for module in (training_cli, convert_cli, cli_classify, cli_capture, cli_benchmark):
        module.register(app)


_register_commands()


def main() -> None:
    """Run the command; an EdgeAllError from any of them becomes one `error:` line and its exit code."""
    try:
        app()
    except EdgeAllError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(int(exc.exit_code)) from None
