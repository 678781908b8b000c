"""Beyond loopback (real `edge-all serve` on 0.0.0.0, real HTTP): only the allowed host names are
served, plain http is warned about on every page and in the log, and the login page shows no menu."""

from __future__ import annotations

import socket

import pytest

from edge_all.station.passwords import hash_password, write_password_file

from .helpers import STOPPED_CLEANLY, Client, start_station

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def station(tmp_path_factory, reference_model):
    tmp = tmp_path_factory.mktemp("hosts")
    write_password_file(tmp / "station-password.json", hash_password(PASSWORD))
    server = start_station(
        tmp, reference_model, "video:/nonexistent.avi", "--host", "0.0.0.0",
        "--allowed-host", "station.clinic.example", "--allowed-host", "192.168.1.20",
    )  # fmt: skip
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def test_only_the_allowed_host_names_are_served(station):
    client = Client(station.url)
    name = socket.gethostname()
    for host in ("station.clinic.example", "192.168.1.20:8080", name, f"{name}.local", "127.0.0.1"):
        status, headers, _, _ = client.get("/", headers={"Host": host})
        assert status == 303 and headers["location"].startswith("/login"), (host, status)
    for host in ("evil.example", "evil.example:8080", "10.9.8.7", "station.clinic.example.evil.example"):
        status, _, body, _ = client.get("/", headers={"Host": host})
        assert status == 421 and b"--allowed-host" in body, host
    assert "answering to the names:" in station.output() and "station.clinic.example" in station.output()


def test_plain_http_beyond_loopback_is_warned_about_and_the_login_page_has_no_menu(station):
    assert "warning: serving plain http on 0.0.0.0" in station.output()
    client = Client(station.url)
    status, _, body, _ = client.get("/login")
    assert status == 200 and b'id="plain-http"' in body
    assert b"<nav" not in body and b"New slide" not in body and b"capture-badge" not in body
    token = client.csrf("/login")
    assert client.post("/login", {"csrf_token": token, "password": PASSWORD})[0] == 303
    status, _, body, _ = client.get("/slides")
    assert status == 200 and b'id="plain-http"' in body and b"<nav" in body
