"""`edge-all serve`: the clinic station, a web application served by the device itself.

Only typer and the standard library at module level; the web framework loads inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_all.capture.options import CaptureOptions, CaptureRequest, check_frame_format
from edge_all.cli.options import (
    DbOption,
    EdgeTpuOption,
    IntervalOption,
    LabelsOption,
    MinAllLikeOption,
    MinGoodFieldsOption,
    ModelOption,
    ThreadsOption,
    ThresholdOption,
)
from edge_all.exit_codes import EPILOG
from edge_all.runtime.choice import ModelChoice
from edge_all.station.config import ACCOUNTS_FILE, DEFAULT_HOST, DEFAULT_PORT, PASSWORD_FILE, SITE_DIR
from edge_all.triage.screening import ScreeningRule


def _read_new_password(what: str = "New station password") -> str:
    """From the terminal (asked twice, not shown), or one line from a pipe (for scripts)."""
    if sys.stdin.isatty():
        return typer.prompt(what, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def serve(
    model: ModelOption = None,
    camera: Annotated[
        str, typer.Option("--camera", help="The microscope camera (as for capture-and-classify).")
    ] = CaptureRequest.camera,
    labels: LabelsOption = None,
    db: DbOption = None,
    save_frames: Annotated[
        Path | None,
        typer.Option("--save-frames", help="Where fields are kept (default: a frames folder beside --db)."),
    ] = None,
    frame_format: Annotated[
        str, typer.Option("--frame-format", help="png (lossless) or jpeg.")
    ] = CaptureOptions.frame_format,
    interval: IntervalOption = None,
    threshold: ThresholdOption = CaptureOptions.threshold,
    min_all_like: MinAllLikeOption = ScreeningRule.min_all_like,
    min_good_fields: MinGoodFieldsOption = ScreeningRule.min_good_fields,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but this machine's own (127.0.0.1) needs a password "
            "(--set-password) first.",
        ),
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Beyond 127.0.0.1: a name or address people type to reach the station (repeat it). This "
            "machine's name, name.local and the --host address are always answered; any other is refused.",
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="Serve https with this certificate (PEM; with --tls-key)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The certificate's private key (PEM).")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file", help=f"The station's password hash (default: {PASSWORD_FILE} beside --db)."
        ),
    ] = None,
    set_password: Annotated[
        bool,
        typer.Option(
            "--set-password",
            help="Set (or change) the station's password, then exit. Asked twice on a terminal; read from "
            "one line of standard input otherwise. Stored only as a salted scrypt hash.",
        ),
    ] = False,
    add_admin: Annotated[
        str | None,
        typer.Option(
            "--add-admin",
            metavar="USERNAME",
            help="Make a station administrator (personal accounts; the first one has no other way in), then "
            "exit. The password is asked twice on a terminal, read from one line of standard input else.",
        ),
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="With --add-admin: the name reviews show.")
    ] = None,
    accounts_db: Annotated[
        Path | None,
        typer.Option(
            "--accounts-db", help=f"Accounts and the audit trail (default: {ACCOUNTS_FILE} beside --db)."
        ),
    ] = None,
    site: Annotated[
        Path | None,
        typer.Option(
            "--site",
            metavar="SITE_DIR",
            help=f"The station's commissioned site (default: {SITE_DIR}/ beside --db): every new slide is "
            "read with its profile; until a ready one is there the station says it is not commissioned. The "
            "Commission page writes here. See docs/commissioning.md.",
        ),
    ] = None,
    threads: ThreadsOption = None,
    edgetpu: EdgeTpuOption = False,
) -> None:
    """Serve the clinic station: start and watch captures, review slides, print reports, export CSV.

    Listens on http://127.0.0.1:8080 by default (this machine only). To use it from a tablet or a
    laptop on the clinic network, set a password first, then add --host 0.0.0.0. See docs/station.md.
    """
    from edge_all.results.store import default_db_path
    from edge_all.station.config import StationConfig

    db = db or default_db_path()
    password_file = password_file or db.parent / PASSWORD_FILE
    if set_password:
        from edge_all.station.passwords import hash_password, write_password_file

        write_password_file(password_file, hash_password(_read_new_password()))
        typer.echo(f"station password set (salted scrypt hash in {password_file})", err=True)
        return
    accounts_path = accounts_db or db.parent / ACCOUNTS_FILE
    if add_admin is not None:
        import os
        import socket

        from edge_all.accounts.audit import Actor
        from edge_all.station.people import StationPeople

        people = StationPeople(accounts_path, socket.gethostname())
        by = Actor(f"system:{os.environ.get('USER', 'cli')}", "administrator")  # who ran the command
        people.add_person(
            add_admin, display_name or add_admin, "administrator", _read_new_password("Password"), by
        )
        people.close()
        typer.echo(f"administrator {add_admin} made (argon2 hash in {accounts_path})", err=True)
        return
    # Said now, not at the first page: no --model and no reference bundle in this install.
    choice = ModelChoice(model, labels, threads, edgetpu).resolved()
    check_frame_format(frame_format)
    from edge_all.station.server import serve as run_server

    options = CaptureOptions(
        interval=interval,
        threshold=threshold,
        save_frames=(save_frames or db.parent / "frames").absolute(),
        save_heatmaps=True,  # beside each frame, when the bundle can draw them: the slide page's toggle
        frame_format=frame_format,
        screening=ScreeningRule(min_all_like, min_good_fields),
    )
    run_server(
        StationConfig(
            model=choice,
            camera=camera,
            db=db.absolute(),
            password_file=password_file,
            capture=options,
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            allowed_hosts=tuple(allowed_host or ()),
            accounts_db=accounts_path,
            site_dir=(site or db.parent / SITE_DIR).absolute(),
        )
    )


def register(app: typer.Typer) -> None:
    """Add `serve` to the `edge-all` app."""
    app.command("serve", epilog=EPILOG)(serve)
