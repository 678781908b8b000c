"""Every form and JSON the station accepts, by property: the real station (`edge-all serve`, a
subprocess on a loopback port, on a real results database with a seeded slide), signed in as an
administrator, is sent generated values in every field of every form (odd unicode, bytes that are
not UTF-8, huge and negative numbers as text, empty) and every query parameter of every page. The
answer is a 2xx or 3xx, or a 4xx with its one-line reason; never a 5xx, and the server's log never
holds a traceback. No bug found (issue 26 allows a parser with none its property without a failing
one first).
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_all.runtime.models import reference_bundle
from edge_all.station.passwords import hash_password, write_password_file
from tests.station.helpers import STOPPED_CLEANLY, Client, SeededField, seed_slide, start_station

from .strategies import FEW, odd_text

SLIDE = "PROP-1"
ADMIN = ("ada", "ada-strong-password")
# Text as a form can carry it: any code point (a lone surrogate is sent as the bytes it would be,
# which are not UTF-8), numbers in every spelling, the seeded slide's own values.
form_text = odd_text | st.sampled_from(
    ["1", "0", "-1", "9" * 5000, "1e309", "nan", "²", " 2 ", "PROP-1", "Pre", "Benign", "yes", "manual",
     "add", "password", "disable", "enable", "retire-shared", "admin", "technician", "specialist", "../x"]
)  # fmt: skip
FORMS = {
    "/capture/start": ["sample_id", "count", "mode", "new_session"],
    "/capture/field": [],
    "/capture/stop": [],
    "/review": ["sample_id", "reviewer", "decision", "comment", "capture_id", "page", "show"],
    "/accounts": ["action", "username", "password", "role", "display_name"],
}
PAGES = {
    "/": [], "/new": ["id"], "/capture/state": [], "/slides": ["search", "page", "show"],
    "/slide": ["id", "page", "show"], "/field": ["id", "sample"], "/report": ["id"], "/export.csv": ["id"],
    "/login": ["next"], "/accounts": [],
}  # fmt: skip


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("station-forms")
    seed_slide(tmp / "results.db", tmp / "frames", SLIDE, [SeededField("classified", "Pre", 0.91)])
    write_password_file(tmp / "station-password.json", hash_password("shared password"))
    made = subprocess.run(
        [sys.executable, "-m", "edge_all", "serve", "--db", str(tmp / "results.db"), "--add-admin", ADMIN[0]],
        input=f"{ADMIN[1]}\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    server = start_station(tmp, reference_bundle(), "video:/nonexistent.avi")  # the bundle that ships
    yield server
    assert server.stop() in STOPPED_CLEANLY, server.output()
    assert "Traceback" not in server.output(), server.output()[-4000:]


@pytest.fixture(scope="module")
def admin(station) -> Client:
    client = Client(station.url)
    status, _, _, _ = client.post(
        "/login", {"csrf_token": client.csrf("/login"), "username": ADMIN[0], "password": ADMIN[1]}
    )
    assert status == 303
    return client


def encoded(fields: dict[str, str]) -> bytes:
    """A form body as a browser would send it, but a lone surrogate as its (invalid UTF-8) bytes."""
    return "&".join(
        f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v, encoding='utf-8', errors='surrogatepass')}"
        for k, v in fields.items()
    ).encode("ascii")


def send(client: Client, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(client.host, client.port, timeout=60)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def answered(status: int, body: bytes, what: str) -> None:
    assert status < 500, (what, status, body[:2000])
    assert b"Traceback" not in body, what


@FEW
@given(path=st.sampled_from(sorted(FORMS)), data=st.data())
def test_every_form_with_any_values_is_answered_without_a_server_error(station, admin, path, data):
    fields = {name: data.draw(form_text, label=name) for name in FORMS[path] if data.draw(st.booleans())}
    if path == "/accounts" and fields.get("username", "").strip() == ADMIN[0]:
        fields["username"] = "someone-else"  # the session's own account stays as it is
    fields["csrf_token"] = admin.csrf("/accounts")
    status, body = send(admin, "POST", path, encoded(fields))
    answered(status, body, (path, fields))


@FEW
@given(path=st.sampled_from(sorted(PAGES)), data=st.data())
def test_every_page_with_any_query_is_answered_without_a_server_error(station, admin, path, data):
    query = {name: data.draw(form_text, label=name) for name in PAGES[path] if data.draw(st.booleans())}
    status, body = send(admin, "GET", f"{path}?{encoded(query).decode()}" if query else path)
    answered(status, body, (path, query))


@FEW
@given(
    capture_id=st.integers(-1, 2**70) | st.sampled_from([1, 2]),
    kind=form_text | st.sampled_from(["image", "heatmap"]),
)
def test_a_field_picture_of_any_id_and_kind_is_answered(station, admin, capture_id, kind):
    target = f"/field/{capture_id}/{urllib.parse.quote(kind, safe='', errors='surrogatepass')}"
    status, body = send(admin, "GET", target)
    answered(status, body, target)


@FEW
@given(username=form_text, password=form_text, next_page=form_text)
def test_the_login_form_with_any_values_is_answered(station, username, password, next_page):
    client = Client(station.url, source="127.0.0.3")  # its own address: its failures are rate-limited apart
    fields = {
        "csrf_token": client.csrf("/login"),
        "username": username,
        "password": password,
        "next": next_page,
    }
    status, body = send(client, "POST", "/login", encoded(fields))
    answered(status, body, fields)
