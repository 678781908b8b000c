"""The capture lives in the server: a second start is refused while one runs, and stopping the
service (SIGTERM, as systemd does) finishes the frame in hand and ends the session in the database."""

from __future__ import annotations

import json
import time

from edge_all.results.store import ResultsStore

from .helpers import STOPPED_CLEANLY, Client, start_station


def test_sigterm_mid_capture_ends_the_session_and_keeps_every_field(tmp_path, int8_bundle, smear_video):
    station = start_station(tmp_path, int8_bundle, f"video:{smear_video}", "--interval", "0.4")
    try:
        client = Client(station.url)
        token = client.csrf("/new")
        assert client.post("/capture/start", {"csrf_token": token, "sample_id": "S-TERM"})[0] == 303
        status, _, body, _ = client.post("/capture/start", {"csrf_token": token, "sample_id": "S-OTHER"})
        assert status == 409 and b"is running: stop it first" in body
        deadline = time.monotonic() + 30
        while json.loads(client.get("/capture/state")[2])["frames"] < 2:
            assert time.monotonic() < deadline, client.get("/capture/state")[2]
            time.sleep(0.1)
    finally:
        code = station.stop()
    assert code in STOPPED_CLEANLY, station.output()
    with ResultsStore.open(station.db, create=False) as store:
        rows = list(store.captures(sample_id="S-TERM"))
        (session,) = store.sessions_of_sample("S-TERM")
        assert store.sample("S-OTHER") is None
    assert 2 <= len(rows) < 10
    assert session["ended_at"] is not None and session["end_reason"] == "stopped by signal"
    assert all(row["status"] == "classified" or row["reason"] for row in rows)


def test_a_capture_that_cannot_start_says_why_and_the_station_stays_up(tmp_path, int8_bundle):
    station = start_station(tmp_path, int8_bundle, f"video:{tmp_path}/missing.avi")
    try:
        client = Client(station.url)
        token = client.csrf("/new")
        for bad in ("", "   ", "tab\tinside", "x" * 101):
            status, _, body, _ = client.post("/capture/start", {"csrf_token": token, "sample_id": bad})
            assert status == 409 and b'class="error"' in body, bad
        no_fields = {"csrf_token": token, "sample_id": "S-1", "count": "0"}
        assert client.post("/capture/start", no_fields)[0] == 400
        assert client.post("/capture/start", {"csrf_token": token, "sample_id": "S-1"})[0] == 303
        deadline = time.monotonic() + 30
        while (state := json.loads(client.get("/capture/state")[2]))["active"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert state["state"] == "failed" and "missing.avi" in state["outcome"], state
        status, _, body, _ = client.get("/new")
        assert status == 200 and b"missing.avi" in body
    finally:
        assert station.stop() in STOPPED_CLEANLY, station.output()
    with ResultsStore.open(station.db, create=False) as store:
        assert store.sessions() == []  # nothing recorded for a capture that never started


def test_over_https_the_session_cookie_is_secure(tmp_path, int8_bundle):
    import shutil
    import ssl
    import subprocess
    import urllib.request

    import pytest

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    station = start_station(
        tmp_path, int8_bundle, "video:x.avi", "--tls-cert", str(cert), "--tls-key", str(key), https=True
    )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with urllib.request.urlopen(station.url + "/", context=context, timeout=10) as response:
            cookie = response.headers["Set-Cookie"]
            assert response.status == 200
        assert "Secure" in cookie and "HttpOnly" in cookie
    finally:
        assert station.stop() in STOPPED_CLEANLY, station.output()
