"""The station's defences, against the real server over real HTTP (no browser needed).

The server here has a password, so every page needs a login; requests come from two loopback
source addresses (127.0.0.1 and 127.0.0.2) to show that login limits are kept per client.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest

from edge_all.results.store import ResultsStore
from edge_all.runtime.choice import ModelChoice
from edge_all.station.config import StationConfig
from edge_all.station.passwords import hash_password, read_password_file, verify_password, write_password_file
from edge_all.station.server import UnsafeBind, check_bind

from .helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, smear_png, start_station

PASSWORD = "correct horse battery"
SCRIPT_ID = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def station(tmp_path_factory, int8_bundle):
    tmp = tmp_path_factory.mktemp("secure")
    frames = tmp / "frames"
    outside = smear_png(tmp / "private" / "outside.png", "Pre", 1)  # a real image, not under frames/
    frames.mkdir(parents=True)
    (frames / "notes.txt").write_text("not an image", encoding="utf-8")
    (frames / "link.png").symlink_to(outside)
    ids = seed_slide(
        tmp / "results.db", frames, "SEC-1",
        [SeededField("classified", "Pre", 0.9),
         SeededField("classified", "Pre", 0.9, image=outside),
         SeededField("classified", "Pre", 0.9, image=f"{frames}/../private/outside.png"),
         SeededField("classified", "Pre", 0.9, image=frames / "notes.txt"),
         SeededField("classified", "Pre", 0.9, image=frames / "link.png"),
         SeededField("classified", "Pre", 0.9, image="/etc/passwd")],
    )  # fmt: skip
    seed_slide(tmp / "results.db", frames, SCRIPT_ID, [SeededField("classified", "Benign", 0.9)])
    write_password_file(tmp / "station-password.json", hash_password(PASSWORD))
    server = start_station(tmp, int8_bundle, "video:/nonexistent.avi")
    server.ids = ids
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()


def logged_in(station, source: str = "127.0.0.1") -> Client:
    client = Client(station.url, source)
    status, headers, _, _ = client.post("/login", {"csrf_token": client.csrf("/login"), "password": PASSWORD})
    assert status == 303, status
    return client


def test_pages_and_pictures_need_a_login(station):
    client = Client(station.url)
    for path in ("/", "/slides", f"/field/{station.ids[0]}/image", "/export.csv?id=SEC-1", "/capture/state"):
        status, headers, body, _ = client.get(path)
        assert status == 303 and headers["location"].startswith("/login?next="), (path, status)
    status, _, _, _ = client.post("/capture/start", {"sample_id": "x"})
    assert status == 403
    status, _, body, _ = client.get("/static/station.css")
    assert status == 200  # the login page needs its stylesheet


def test_login_issues_a_new_httponly_samesite_cookie(station):
    client = Client(station.url)
    token = client.csrf("/login")
    before = client.cookies["edge_all_station"]
    status, headers, _, set_cookies = client.post("/login", {"csrf_token": token, "password": PASSWORD})
    assert status == 303 and headers["location"] == "/"
    (cookie,) = set_cookies
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on the clinic network; https would add it
    assert client.cookies["edge_all_station"] != before  # no session fixation
    assert client.get("/")[0] == 200


def test_a_post_without_a_valid_csrf_token_is_refused(station):
    client = logged_in(station)
    token = client.csrf("/new")
    review = {"sample_id": "SEC-1", "reviewer": "Mallory", "decision": "refer"}
    with ResultsStore.open(station.db, create=False) as store:
        before = len(store.reviews("SEC-1"))
    for path, form in [
        ("/review", review),
        ("/capture/start", {"sample_id": "FORGED"}),
        ("/capture/stop", {}),
        ("/logout", {}),
    ]:
        assert client.post(path, form)[0] == 403, path
        assert client.post(path, {**form, "csrf_token": "forged-" + token[7:]})[0] == 403, path
    another = logged_in(station)  # another session's token is no good either
    assert client.post("/review", {**review, "csrf_token": another.csrf("/new")})[0] == 403
    with ResultsStore.open(station.db, create=False) as store:
        assert len(store.reviews("SEC-1")) == before
        assert store.sample("FORGED") is None
    assert client.get("/capture/state")[2].find(b'"state":"idle"') > 0
    # The same request with the right token does what it says.
    status, headers, _, _ = client.post("/review", {**review, "csrf_token": token})
    assert status == 303
    with ResultsStore.open(station.db, create=False) as store:
        assert len(store.reviews("SEC-1")) == before + 1


def test_every_state_changing_route_checks_the_csrf_token(station, tmp_path):
    from starlette.routing import Route

    from edge_all.station.app import build_app

    config = StationConfig(
        model=ModelChoice(tmp_path), camera="video:x.avi", db=tmp_path / "r.db", password_file=tmp_path / "p"
    )
    routes = [route for route in build_app(config).routes if isinstance(route, Route)]
    changing = [route for route in routes if route.methods - {"GET", "HEAD"}]
    assert {route.path for route in changing} == {
        "/capture/start",
        "/capture/field",
        "/capture/stop",
        "/review",
        "/cell-review",
        "/login",
        "/logout",
        "/accounts",
        "/commission",
    }
    assert all(getattr(route.endpoint, "csrf_checked", False) for route in changing)


def test_pictures_outside_the_frames_folder_are_404(station):
    client = logged_in(station)
    good, outside, dotted, text, link, passwd = station.ids
    status, headers, body, _ = client.get(f"/field/{good}/image")
    assert status == 200 and body.startswith(b"\x89PNG") and headers["content-type"] == "image/png"
    assert client.get(f"/field/{good}/image-thumb")[0] == 200
    for capture_id in (outside, dotted, text, link, passwd, 999_999):
        for kind in ("image", "image-thumb", "heatmap"):
            status, _, body, _ = client.get(f"/field/{capture_id}/{kind}")
            assert status == 404 and b"root:" not in body, (capture_id, kind)
    for path in (
        "/field/..%2F..%2F..%2Fetc%2Fpasswd/image",
        "/field/1/..%2F..%2F..%2Fetc%2Fpasswd",
        "/field/1/../../../../etc/passwd",
        "/static/..%2F..%2Fcapture%2Fstore.py",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
    ):
        status, _, body, _ = client.get(path)
        assert status == 404 and b"root:" not in body and b"import" not in body, path


def test_a_sample_id_with_a_script_is_shown_as_text(station):
    client = logged_in(station)
    token = client.csrf("/new")
    client.post(
        "/review",
        {"csrf_token": token, "sample_id": SCRIPT_ID, "reviewer": "<b>Eve</b>", "decision": "refer",
         "comment": '<img src=x onerror="alert(2)">'},
    )  # fmt: skip
    escaped = b"&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/slides", "/slides?q=script", "/slide?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                 "/report?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E"):  # fmt: skip
        status, _, body, _ = client.get(path)
        assert status == 200 and escaped in body and b"<script>alert" not in body, path
    status, _, body, _ = client.get("/slide?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert b"&lt;img src=x onerror=" in body and b"<img src=x" not in body and b"<b>Eve" not in body


def test_every_response_forbids_framing_sniffing_and_foreign_content(station):
    client = logged_in(station)
    for path in ("/", "/login", f"/field/{station.ids[0]}/image", "/static/station.css", "/nowhere"):
        _, headers, _, _ = client.get(path)
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    _, headers, _, _ = client.get("/slides")
    assert headers["cache-control"] == "no-store"  # patient data stays out of shared caches
    status, _, body, _ = client.get("/slides")
    assert not re.search(rb"<script(?![^>]*\bsrc=)", body)  # no inline script anywhere


def test_only_a_loopback_host_header_is_served(station):
    client = logged_in(station)
    assert client.get("/", headers={"Host": "127.0.0.1"})[0] == 200
    for host in ("evil.example", "evil.example:8080", "192.168.1.20"):  # DNS rebinding
        assert client.get("/", headers={"Host": host})[0] == 421, host


def test_oversized_forms_are_refused(station):
    client = logged_in(station)
    form = {"csrf_token": client.csrf("/new"), "sample_id": "SEC-1", "reviewer": "x", "decision": "y",
            "comment": "z" * 100_000}  # fmt: skip
    assert client.post("/review", form)[0] == 413


def test_wrong_passwords_are_rate_limited_per_client(station):
    attacker = Client(station.url, source="127.0.0.2")
    token = attacker.csrf("/login")
    for attempt in range(5):
        status, _, body, _ = attacker.post("/login", {"csrf_token": token, "password": f"guess-{attempt}"})
        assert status == 401 and b"wrong password" in body
    status, headers, body, _ = attacker.post("/login", {"csrf_token": token, "password": PASSWORD})
    assert status == 429 and int(headers["retry-after"]) > 60 and b"too many failed attempts" in body
    assert attacker.get("/")[0] == 303  # still not logged in
    logged_in(station, "127.0.0.1")  # another client is not locked out


def test_listening_beyond_loopback_needs_a_password(tmp_path, int8_bundle):
    db = tmp_path / "results.db"
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        proc = subprocess.run(
            [sys.executable, "-m", "edge_all", "serve", "--model", str(int8_bundle), "--db", str(db),
             "--host", host, "--port", "1"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(
            f"error: --host {host} would let anyone on the network use this station"
        )
        assert "--set-password" in proc.stderr
    config = StationConfig(
        ModelChoice(int8_bundle), "video:x.avi", db, tmp_path / "station-password.json", host="0.0.0.0"
    )
    with pytest.raises(UnsafeBind):
        check_bind(config)
    write_password_file(config.password_file, hash_password(PASSWORD))
    check_bind(config)  # with a password, listening beyond loopback is allowed
    check_bind(
        StationConfig(ModelChoice(int8_bundle), "video:x.avi", db, tmp_path / "none", host="127.0.0.1")
    )


def test_set_password_stores_only_a_salted_hash(tmp_path):
    path = tmp_path / "state" / "station-password.json"
    command = [sys.executable, "-m", "edge_all", "serve", "--set-password", "--password-file", str(path)]
    proc = subprocess.run(command, input=f"{PASSWORD}\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert PASSWORD not in text and "scrypt" in text
    stored = read_password_file(path)
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "!", stored)
    assert stored.n >= 2**15 and stored.r == 8
    assert hash_password(PASSWORD).salt != hash_password(PASSWORD).salt
    proc = subprocess.run(command, input="short\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "at least 8 characters" in proc.stderr
    assert verify_password(PASSWORD, read_password_file(path))  # the old password still stands
    assert not [name for name in os.listdir(path.parent) if name.endswith(".tmp")]


def test_a_damaged_password_file_is_one_clear_error(tmp_path):
    path = tmp_path / "station-password.json"
    path.write_text("{not json", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "edge_all", "serve", "--model", str(tmp_path), "--password-file", str(path),
         "--db", str(tmp_path / "r.db"), "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (
        proc.returncode == 1
        and proc.stderr == f"error: {path}: damaged station password file (set it again: --set-password)\n"
    )
