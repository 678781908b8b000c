"""`edge-all sync`: send this clinic's recorded fields, calls and reviews to the hub; bring sign-offs back.

Once (the systemd timer's way, and what the station runs) or --watch (a service: fields go as they are
recorded). Only typer and the standard library at module level.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from edge_all.cli.options import DbOption
from edge_all.exit_codes import EPILOG


def sync(
    db: DbOption = None,
    credential: Annotated[
        Path | None,
        typer.Option(
            "--credential", help="The device credential (from edge-all hub enrol; default: beside --db)."
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep going: send each field as it is recorded.")
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option("--max-seconds", min=0.0, help="Stop after this long (once: give up then)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the last pass as JSON.")] = False,
) -> None:
    """Send what the outbox holds to the hospital hub and bring sign-offs back.

    Without --watch: repeat until the outbox is empty or --max-seconds passes (a dropped link is
    retried with backoff); exits 1 if the hub could not be reached at all.
    """
    from edge_all.errors import EdgeAllError
    from edge_all.results.store import default_db_path
    from edge_all.sync import credentials
    from edge_all.sync.engine import OLD_HUB, Syncer
    from edge_all.sync.engine import watch as run_watch
    from edge_all.sync.link import HubRefused

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    db = (db or default_db_path()).absolute()
    stored = credentials.read(credential or db.parent / credentials.FILE)
    syncer = Syncer(db, stored)
    try:
        result = run_watch(syncer, until_idle=not watch, max_seconds=max_seconds if max_seconds else None)
    except HubRefused as refused:
        if refused.status == OLD_HUB:
            raise EdgeAllError(f"{stored.url}: {refused.why}") from None
        raise EdgeAllError(f"{stored.url}: the hub refused this device ({refused}): enrol again") from None
    finally:
        syncer.close()
    if result is None:
        raise EdgeAllError(f"{stored.url}: the hub could not be reached; everything stays in the outbox")
    summary = {"enqueued": result.enqueued, "sent": result.sent, "refused": result.refused,
               "signoffs": result.signoffs, "pending": result.pending}  # fmt: skip
    words = f"sent {result.sent}, {result.pending} waiting, {result.signoffs} sign-offs received"
    typer.echo(json.dumps(summary) if as_json else words)


def register(app: typer.Typer) -> None:
    app.command("sync", epilog=EPILOG)(sync)
