"""A real PostgreSQL 15 cluster for the tests, from Debian's postgresql-15 package.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (made by
the package) and `initdb` / `pg_ctl` (not on PATH: /usr/lib/postgresql/15/bin) run through
`runuser`. It listens on a loopback port with trust authentication; the tests make the two roles
of docs/hub.md (an owner that migrates, an application role that serves).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .required import free_port, missing

BIN = Path(os.environ.get("EDGE_ALL_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER, APP = "hub_owner", "hub_app"


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


@dataclass
class Postgres:
    data: Path
    port: int
    log: Path

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_postgres(), str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", *args],
            capture_output=True, text=True, check=check, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        )
        self._ctl("-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def psql(self, sql: str, user: str = "postgres", database: str = "postgres") -> str:
        result = subprocess.run(
            [*_as_postgres(), "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(result.stderr)
        return result.stdout

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> tuple[str, str]:
        """A fresh database owned by OWNER; (owner URL, application URL)."""
        self.psql(f"CREATE DATABASE {name} OWNER {OWNER}")
        self.psql(
            f"REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO {OWNER}", database=name
        )
        return self.url(OWNER, name), self.url(APP, name)


def start_postgres() -> Postgres:
    if not (BIN / "initdb").is_file() or shutil.which("psql") is None:
        missing(f"no PostgreSQL 15 at {BIN} (apt-get install postgresql-15)")
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("no postgres user (apt-get install postgresql-15 makes it)")
    data = Path(tempfile.mkdtemp(prefix="edge-all-pg-"))
    if os.getuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    cluster = Postgres(data / "data", free_port(), data / "postgres.log")
    subprocess.run(
        [*_as_postgres(), str(BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
         "-E", "UTF8", "--locale=C.UTF-8"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    if os.getuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        os.chmod(data, 0o755)
    cluster.start()
    cluster.psql(f"CREATE ROLE {OWNER} LOGIN; CREATE ROLE {APP} LOGIN")
    return cluster


def remove(cluster: Postgres) -> None:
    cluster.stop("immediate")
    shutil.rmtree(cluster.data.parent, ignore_errors=True)
