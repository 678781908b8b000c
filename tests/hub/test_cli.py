"""`edge-all hub` and `edge-all sync` as an administrator and a clinic run them: the first administrator
from the command line, clinics, accounts, enrolment codes, revocation; TLS with the hub's certificate
pinned at enrolment, and a hub that shows another certificate refused."""

from __future__ import annotations

import json
import subprocess

from edge_all.accounts import audit
from edge_all.accounts.database import open_engine
from edge_all.accounts.people import Accounts
from tests.servers.hub import HubProcess, hub_command
from tests.servers.required import free_port

from .conftest import edge_all, record_slide, sync


def self_signed(folder, name: str) -> tuple[str, str]:
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def test_an_administrator_sets_up_a_clinic_from_the_command_line_and_revokes_its_pi(tmp_path):
    data = tmp_path / "hub"
    hub_args = ("hub", "--data", str(data))
    edge_all(*hub_args, "admin", "root", "--name", "Hospital IT", input="a long admin password\n")
    edge_all(*hub_args, "clinic", "add", "kisumu-1", "Kisumu clinic")
    edge_all(
        *hub_args,
        "person",
        "add",
        "ada",
        "--role",
        "specialist",
        "--clinic",
        "kisumu-1",
        input="a long password here\n",
    )
    refused = edge_all(
        *hub_args, "person", "add", "bob", "--role", "technician", check=False, input="x" * 12 + "\n"
    )
    assert (
        refused.returncode == 2
        and refused.stderr.strip() == "error: a technician belongs to exactly one clinic (--clinic)"
    )
    short = edge_all(*hub_args, "person", "add", "bob", "--role", "specialist", check=False, input="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    code = edge_all(*hub_args, "device", "code", "kisumu-1", "--name", "pi-kisumu").stdout.strip()

    cert, key = self_signed(tmp_path, "hub")
    port = free_port()
    command = hub_command(
        f"sqlite:///{data / 'hub.db'}", str(data / "pictures"), port, "--tls-cert", cert, "--tls-key", key
    )
    hub = HubProcess(command, port, tmp_path / "hub.log", cafile=cert).start()
    try:
        clinic = tmp_path / "clinic"
        clinic.mkdir()
        credential = clinic / "hub-credential.json"
        wrong = edge_all(
            "hub",
            "enrol",
            hub.url,
            "--code",
            code,
            "--credentials",
            str(credential),
            "--fingerprint",
            "AB:CD",
            check=False,
        )
        assert wrong.returncode == 1 and "not the one expected" in wrong.stderr and not credential.exists()
        enrolled = edge_all("hub", "enrol", hub.url, "--code", code, "--credentials", str(credential))
        assert "SHA-256" in enrolled.stderr and "enrolled as device 1 of clinic kisumu-1" in enrolled.stderr
        assert json.loads(credential.read_text())["certificate"].startswith("-----BEGIN CERTIFICATE-----")
        again = edge_all(
            "hub", "enrol", hub.url, "--code", code, "--credentials", str(tmp_path / "x.json"), check=False
        )
        assert again.returncode == 1 and "already used" in again.stderr

        db = clinic / "results.db"
        record_slide(db, "PBS-TLS", 3)
        assert sync(db, credential)["pending"] == 0  # over TLS, trusting only the pinned certificate

        # The hub comes back with another certificate (an impostor, or a renewal not re-pinned): refused.
        hub.stop()
        other_cert, other_key = self_signed(tmp_path, "other")
        hub.command[hub.command.index(cert)] = other_cert
        hub.command[hub.command.index(key)] = other_key
        hub.cafile = other_cert
        hub.start()
        record_slide(db, "PBS-TLS-2", 1)
        impostor = sync(db, credential, check=False)
        assert "certificate is not the one trusted" in impostor["error"]

        edge_all(*hub_args, "device", "revoke", "1")
        engine = open_engine(f"sqlite:///{data / 'hub.db'}")
        assert {e.action for e in audit.entries(engine)} >= {
            "add clinic",
            "add account",
            "issue enrolment code",
            "enrol",
            "revoke device",
            "receive records",
        }
        assert Accounts(engine).count_administrators() == 1
        engine.dispose()
    finally:
        hub.stop()


def test_a_revoked_pi_is_told_to_enrol_again_and_keeps_its_outbox(tmp_path):
    from tests.servers.hub import enrol_code, prepare, start_hub

    database = f"sqlite:///{tmp_path / 'hub.db'}"
    prepare(database, {"kisumu-1": "Kisumu"})
    hub = start_hub(tmp_path / "hub", database)
    try:
        credential = tmp_path / "cred.json"
        edge_all(
            "hub",
            "enrol",
            hub.url,
            "--code",
            enrol_code(database, "kisumu-1"),
            "--credentials",
            str(credential),
        )
        edge_all("hub", "--database", database, "device", "revoke", "1")
        db = tmp_path / "results.db"
        record_slide(db, "PBS-R", 2)
        result = edge_all("sync", "--db", str(db), "--credential", str(credential), check=False)
        assert result.returncode == 1
        assert "the hub refused this device" in result.stderr and "enrol again" in result.stderr
        from edge_all.sync.outbox import Outbox, outbox_path

        with Outbox(outbox_path(db)) as outbox:
            assert outbox.state().pending == 3
        credential.chmod(0o644)
        loose = edge_all("sync", "--db", str(db), "--credential", str(credential), check=False)
        assert "others may read this credential" in loose.stderr
    finally:
        hub.stop()
