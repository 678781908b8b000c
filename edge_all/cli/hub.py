"""`edge-all hub`: the hospital hub (serve, migrate, clinics, accounts, devices, retention) and
`edge-all hub enrol`, which a clinic's Pi runs once to get its device credential.

`edge-all hub --data DIR` serves; the same options before a subcommand name the hub's database for it
(`edge-all hub --data DIR clinic add kisumu-1 "Kisumu clinic"`). Only typer and the standard library
at module level.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_all.exit_codes import EPILOG

hub_app = typer.Typer(help="The hospital hub: many clinics, one worklist, personal accounts, sign-off.",
                      epilog=EPILOG, no_args_is_help=False, add_completion=False)  # fmt: skip
clinic_app = typer.Typer(help="The clinics this hub serves.", no_args_is_help=True)
person_app = typer.Typer(
    help="Personal accounts (technician, specialist, administrator).", no_args_is_help=True
)
device_app = typer.Typer(help="Clinic devices: enrolment codes, revocation.", no_args_is_help=True)
hub_app.add_typer(clinic_app, name="clinic")
hub_app.add_typer(person_app, name="person")
hub_app.add_typer(device_app, name="device")


def default_data() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "edge-all" / "hub"


def _password(prompt: str) -> str:
    """From the terminal (asked twice, not shown), or one line of standard input (for scripts)."""
    if sys.stdin.isatty():
        return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _config(ctx: typer.Context):
    return ctx.obj["config"]


def _engine(ctx: typer.Context):
    from edge_all.accounts.database import open_engine
    from edge_all.hub import migrate

    config = _config(ctx)
    engine = open_engine(config.database)
    if config.migrate:
        migrate.upgrade(engine)
    return engine


def _admin_actor():
    from edge_all.accounts.audit import Actor

    return Actor(f"system:{os.environ.get('USER', 'cli')}", "administrator")  # who ran the command


@hub_app.callback(invoke_without_command=True)
def hub(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option("--data", help="The hub's folder: hub.db and pictures/.")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option("--database", help="A database URL instead of DATA/hub.db: postgresql://USER@HOST/DB."),
    ] = None,
    pictures: Annotated[
        str | None, typer.Option("--pictures", help="Where pictures go: a folder or s3://BUCKET.")
    ] = None,
    s3_endpoint: Annotated[
        str | None, typer.Option("--s3-endpoint", help="The S3 service's URL (SeaweedFS, MinIO).")
    ] = None,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Never change the schema (PostgreSQL: the owner migrates).")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8443,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve https (PEM, with --tls-key).")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key")] = None,
    name: Annotated[str, typer.Option("--name", help="The hospital's name on every page.")] = "hospital",
    allowed_host: Annotated[
        list[str] | None, typer.Option("--allowed-host", help="A name this hub answers to (repeat).")
    ] = None,
    standards: Annotated[
        Path | None,
        typer.Option(
            "--standards", help="The PACS and FHIR settings (JSON, 0600); default DATA/standards.json."
        ),
    ] = None,
) -> None:
    """Serve the hub (no subcommand), or run a subcommand on its database."""
    from edge_all.accounts.database import sqlite_url
    from edge_all.hub.config import HubConfig

    data = data or default_data()
    if standards is None and (data / "standards.json").exists():
        standards = data / "standards.json"
    config = HubConfig(
        database=database or sqlite_url(data / "hub.db"), pictures=pictures or str(data / "pictures"),
        s3_endpoint=s3_endpoint, name=name, allowed_hosts=tuple(allowed_host or ()), migrate=not no_migrate,
        standards=str(standards) if standards else None,
    )  # fmt: skip
    ctx.obj = {"config": config}
    if ctx.invoked_subcommand is None:
        from edge_all.hub.server import serve

        serve(config, host, port, tls_cert, tls_key)


@hub_app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    app_role: Annotated[
        str | None,
        typer.Option("--app-role", help="PostgreSQL: the role the hub serves with (granted access)."),
    ] = None,
) -> None:
    """Bring the tables up to date (as the owner), and grant the application's role what it needs."""
    from edge_all.accounts.database import open_engine
    from edge_all.hub import migrate

    engine = open_engine(_config(ctx).database)
    migrate.upgrade(engine)
    if app_role:
        migrate.grant(engine, app_role)
    typer.echo("the hub's tables are up to date" + (f"; {app_role} may serve" if app_role else ""), err=True)


@hub_app.command("admin")
def first_admin(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The administrator's username.")],
    display_name: Annotated[str, typer.Option("--name", help="The name shown on pages.")] = "",
) -> None:
    """Make an administrator from the command line (the first one has no other way in)."""
    from edge_all.accounts.people import Accounts

    accounts = Accounts(_engine(ctx))
    accounts.add_person(
        username, display_name or username, "administrator", _password("Password"), (), _admin_actor()
    )
    typer.echo(f"administrator {username} made", err=True)


@clinic_app.command("add")
def clinic_add(ctx: typer.Context, clinic_id: str, name: str) -> None:
    """Add a clinic (an id like kisumu-1, and its name)."""
    from edge_all.accounts.people import Accounts

    Accounts(_engine(ctx)).add_clinic(clinic_id, name, _admin_actor())
    typer.echo(f"clinic {clinic_id} added", err=True)


@person_app.command("add")
def person_add(
    ctx: typer.Context,
    username: str,
    role: Annotated[str, typer.Option("--role", help="technician, specialist or administrator.")],
    clinic: Annotated[list[str] | None, typer.Option("--clinic", help="A clinic they see (repeat).")] = None,
    display_name: Annotated[str, typer.Option("--name", help="The name shown on reviews.")] = "",
) -> None:
    """Add a personal account; the password is asked twice (or read from one line of stdin)."""
    from edge_all.accounts.people import Accounts

    Accounts(_engine(ctx)).add_person(
        username, display_name or username, role, _password("Password"), tuple(clinic or ()), _admin_actor()
    )
    typer.echo(f"{role} {username} added", err=True)


@person_app.command("password")
def person_password(ctx: typer.Context, username: str) -> None:
    """Set a new password (this also lifts a lock-out)."""
    from edge_all.accounts.people import Accounts

    Accounts(_engine(ctx)).set_password(username, _password("New password"), _admin_actor())


@person_app.command("disable")
def person_disable(ctx: typer.Context, username: str) -> None:
    """Disable an account (accounts are never deleted: the audit names them)."""
    from edge_all.accounts.people import Accounts

    Accounts(_engine(ctx)).set_active(username, False, _admin_actor())


@device_app.command("code")
def device_code(
    ctx: typer.Context, clinic: str, device_name: Annotated[str, typer.Option("--name")] = "pi"
) -> None:
    """Issue a one-time enrolment code for a clinic's Pi (valid 24 hours); printed on stdout."""
    from edge_all.accounts.devices import Devices

    typer.echo(Devices(_engine(ctx)).issue_code(clinic, device_name, _admin_actor()))


@device_app.command("revoke")
def device_revoke(ctx: typer.Context, device_id: int) -> None:
    """Revoke a device: its next request is refused; what it sent stays."""
    from edge_all.accounts.devices import Devices

    device = Devices(_engine(ctx)).revoke(device_id, _admin_actor())
    typer.echo(f"device {device.id} ({device.clinic_id}, {device.name}) revoked", err=True)


@device_app.command("list")
def device_list(ctx: typer.Context) -> None:
    """The devices, as JSON lines (never their tokens)."""
    from edge_all.accounts.devices import Devices

    for device in Devices(_engine(ctx)).all():
        typer.echo(json.dumps(device))


@hub_app.command("purge")
def purge(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--older-than-days", min=1, help="Retention: delete older slides.")],
) -> None:
    """Delete slides whose last record arrived more than DAYS ago; each deletion is audited first."""
    from edge_all.accounts import clock
    from edge_all.hub.blobs import open_blobs
    from edge_all.hub.storage import HubStore

    config = _config(ctx)
    purged = HubStore(_engine(ctx)).purge(
        clock.later_iso(-days * 86400), _admin_actor(), open_blobs(config.pictures, config.s3_endpoint)
    )
    typer.echo(f"{len(purged)} slide(s) purged", err=True)


@hub_app.command("enrol")
def enrol(
    url: Annotated[str, typer.Argument(help="The hub's address: https://hub.hospital.example:8443")],
    code: Annotated[str, typer.Option("--code", help="The one-time code an administrator issued.")],
    credentials: Annotated[
        Path | None, typer.Option("--credentials", help="Where to keep the credential (0600).")
    ] = None,
    trust: Annotated[
        str,
        typer.Option(
            "--trust",
            help="pin: trust the certificate the hub shows now (checked by its "
            "fingerprint, --fingerprint); system: the system's trust store.",
        ),
    ] = "pin",  # fmt: skip
    fingerprint: Annotated[
        str | None,
        typer.Option("--fingerprint", help="The hub certificate's SHA-256, to check before pinning."),
    ] = None,
) -> None:
    """On a clinic's Pi: trade an enrolment code for this device's own credential (stored 0600)."""
    from edge_all.sync.credentials import default_path
    from edge_all.sync.enrol import enrol as run_enrol

    stored = run_enrol(url, code, credentials or default_path(), trust, fingerprint)
    typer.echo(
        f"enrolled as device {stored.device} of clinic {stored.clinic}; credential in {stored.path}", err=True
    )


def register(app: typer.Typer) -> None:
    """Add `hub` to the `edge-all` app."""
    app.add_typer(hub_app, name="hub")
