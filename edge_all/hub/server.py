"""Start the hub: migrate (unless told the owner does it), then serve with uvicorn until SIGTERM.

The access log is off (its URLs would carry sample ids into the journal); refusals are logged by the
API itself, one line each. Beyond loopback without TLS the hub warns at start, on every page's log.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from edge_all.errors import UsageError
from edge_all.hub.config import HubConfig

log = logging.getLogger("edge_all.hub")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(config: HubConfig, host: str, port: int, tls_cert: Path | None, tls_key: Path | None) -> None:
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together (the certificate and its private key)")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")
    from edge_all.extras import require_extra

    require_extra(
        "hub", ["jsonschema", "pydicom", "highdicom", "dicomweb_client", "fhir.resources"], "edge-all hub"
    )
    if config.database.startswith("postgres"):
        require_extra("hub", ["psycopg"], "edge-all hub --database postgresql://...")
    if config.pictures.startswith("s3://"):
        require_extra("hub", ["boto3"], "edge-all hub --pictures s3://...")
    import uvicorn

    from edge_all.hub.app import build_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    app = build_app(config)
    if not is_loopback(host) and tls_cert is None:
        log.warning(
            "serving plain http on %s: passwords and tokens cross the network readable; use --tls-cert", host
        )
    uvicorn.run(
        app, host=host, port=port, access_log=False, server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=10, log_level="info",
        ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None,
    )  # fmt: skip
