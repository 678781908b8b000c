"""The web side of accounts, for any Starlette app that people sign in to (the hub; the station next).

- The cookie holds only a random token (HttpOnly, SameSite=Lax, Secure over https); the session is
  in the database (sessions.py). Before login, a double-submit token (a cookie and a hidden field that
  must match) guards the login form itself.
- Every POST form carries the session's CSRF token: `checked_form` refuses it otherwise (403).
- Every response carries a strict Content-Security-Policy (no inline script at all) and refuses framing
  and sniffing: the same headers as the station's.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

COOKIE = "edge_all_session"
PRE_LOGIN_COOKIE = "edge_all_login"
CSRF_FIELD = "csrf_token"
MAX_FORM_FIELDS = 50
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def local_time(value: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An ISO 8601 UTC instant as this machine's local time, for the pages of the station and the hub."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().strftime(fmt)
    except ValueError:
        return value


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def checked_form(request: Request, expected: str) -> FormData:
    """The posted form, once its CSRF token matches `expected`; otherwise 403."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get(CSRF_FIELD)
    if (
        not expected
        or not isinstance(token, str)
        or not hmac.compare_digest(token.encode(), expected.encode())
    ):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return form


def set_cookie(response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/"
    )
