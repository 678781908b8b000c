"""`edge-all results list|show|export`: read back the database capture-and-classify writes.

Only typer and the standard library at module level; the store loads inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from edge_all.cli.options import DbOption

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


results_app = typer.Typer(
    name="results",
    help="Read the capture results database: list samples, show rows, export CSV.",
    no_args_is_help=True,
)


def _open_store(db: Path | None) -> Any:
    from edge_all.results.store import ResultsStore, default_db_path

    return ResultsStore.open(db or default_db_path(), create=False)


@results_app.command("list")
def results_list(
    db: DbOption = None,
    sessions: Annotated[
        bool, typer.Option("--sessions", help="One line per capture session instead.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Samples (or sessions) with their counts and screening call."""
    from edge_all.safe_text import printable

    with _open_store(db) as store:
        if sessions:
            items = []
            for info in store.sessions():
                rule, labels = store.session_rule(info["id"])
                (summary,) = store.summaries(session_id=info["id"], labels=labels, rule=rule) or [None]
                counts = summary.to_dict() if summary else {"fields": 0, "call": "no fields recorded"}
                items.append({**info, **counts})
        else:
            items = store.samples()
    if json_output:
        typer.echo(json.dumps(items, indent=2))
        return
    if not items:
        typer.echo("no captures recorded")
        return
    first = "session" if sessions else "sample"
    typer.echo(
        f"{first:<20} {'fields':>6} {'good':>6} {'ALL-like':>8} {'referred':>8} {'uncertain':>9} "
        f"{'rejected':>8} {'errors':>6}  screening call"
    )
    for item in items:
        name = f"{item['id']} {item['sample_id'] or '-'}" if sessions else str(item["sample_id"] or "-")
        typer.echo(
            printable(
                f"{name:<20} {item['fields']:>6} {item.get('good', 0):>6} {item.get('all_like', 0):>8} "
                f"{item.get('referred', 0):>8} {item.get('uncertain', 0):>9} {item.get('rejected', 0):>8} "
                f"{item.get('errors', 0):>6}  {item['call']}"
            )
        )


@results_app.command("show")
def results_show(
    ident: Annotated[str, typer.Argument(metavar="SAMPLE_ID|ROW_ID", help="A sample id, or a row id.")],
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """The rows of one sample (or one row by its id), with the sample's summary."""
    from edge_all.results.errors import StoreError
    from edge_all.results.summary import summarize
    from edge_all.results.table import rows_table

    with _open_store(db) as store:
        if store.has_sample(ident):
            rows = list(store.captures(sample_id=ident))
        elif ident.isascii() and ident.isdigit() and (row := store.capture(int(ident))) is not None:
            rows = [row]
        else:
            raise StoreError(f"no sample or row {ident!r} in {store.path}")
        rule, labels = store.session_rule(rows[-1]["session_id"])
        sites = {session["id"]: session["site_sha256"] for session in store.sessions()}
    if json_output:
        typer.echo(json.dumps([{**row, "site_sha256": sites[row["session_id"]]} for row in rows], indent=2))
        return
    typer.echo(rows_table(rows))
    for session_id in dict.fromkeys(row["session_id"] for row in rows):
        typer.echo(_site_line(session_id, sites[session_id]))
    for summary in summarize(rows, labels, rule):
        typer.echo(summary.describe())


def _site_line(session_id: int, site_sha256: str | None) -> str:
    """Which site profile a session read with (issue 23), or that it read with none."""
    if site_sha256 is None:
        return f"session {session_id}: no site profile (not commissioned)"
    return f"session {session_id}: site profile sha256 {site_sha256}"


@results_app.command("export")
def results_export(
    csv_path: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
    sample_id: Annotated[str | None, typer.Option("--sample-id", help="Only this sample's rows.")] = None,
    db: DbOption = None,
) -> None:
    """Every capture row as CSV (probabilities as one JSON column)."""
    from edge_all.results.export import export_csv
    from edge_all.safe_text import printable

    with _open_store(db) as store:
        count = export_csv(store, csv_path, sample_id)  # written whole, or a one-line error
    typer.echo(printable(f"wrote {count} rows to {csv_path}"), err=True)


def register(app: typer.Typer) -> None:
    """Add `results list|show|export` to the `edge-all` app."""
    app.add_typer(results_app, name="results")
