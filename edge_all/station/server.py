"""Start the station: refuse an unsafe bind, then serve the app with uvicorn until SIGINT/SIGTERM.

uvicorn owns the signals (in the main thread); on shutdown the app's lifespan stops the capture
thread, which records the frame in hand and ends its session before the process exits. The access
log is off: its URLs would carry sample ids into the system journal.
"""

from __future__ import annotations

import sys

from edge_all.errors import UsageError
from edge_all.station.config import StationConfig
from edge_all.station.passwords import read_password_file

GRACEFUL_SECONDS = 10


class UnsafeBind(UsageError):
    """Listening beyond this machine without a password."""


def check_bind(config: StationConfig) -> None:
    if (config.tls_cert is None) != (config.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together (the certificate and its private key)")
    for path in (config.tls_cert, config.tls_key):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")
    if config.loopback_only:
        return
    if read_password_file(config.password_file) is None and not _has_accounts(config):
        raise UnsafeBind(
            f"--host {config.host} would let anyone on the network use this station: set a password first "
            f"(edge-all serve --set-password --password-file {config.password_file}) or make an "
            "administrator (edge-all serve --add-admin NAME), or keep the default --host 127.0.0.1"
        )


def _has_accounts(config: StationConfig) -> bool:
    if not config.accounts_path.is_file():
        return False
    from edge_all.station.people import StationPeople

    people = StationPeople(config.accounts_path, config.station_name)
    try:
        return people.has_accounts()
    finally:
        people.close()


def prepare_database(config: StationConfig) -> None:
    """Create (or upgrade) the results database before anything can race to do it: the first page
    and the first capture would otherwise open a new file at the same moment."""
    from edge_all.results.store import ResultsStore

    ResultsStore.open(config.db).close()


PLAIN_HTTP = (
    "serving plain http on {host}: passwords and patient data cross the clinic network unencrypted; "
    "give --tls-cert and --tls-key (docs/station.md)"
)


def serve(config: StationConfig) -> None:
    check_bind(config)
    prepare_database(config)
    # Said on standard error before uvicorn configures logging: the service's journal keeps it.
    if not config.loopback_only:
        print(f"answering to the names: {', '.join(sorted(config.served_hosts))}", file=sys.stderr)
    if config.plain_http_beyond_loopback:
        print(f"warning: {PLAIN_HTTP.format(host=config.host)}", file=sys.stderr, flush=True)
    import uvicorn

    from edge_all.station.app import build_app

    uvicorn.run(
        build_app(config),
        host=config.host,
        port=config.port,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        log_level="info",
        ssl_certfile=str(config.tls_cert) if config.tls_cert else None,
        ssl_keyfile=str(config.tls_key) if config.tls_key else None,
    )
