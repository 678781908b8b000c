"""What keeps the station safe on a clinic network that is not trusted.

- Sessions live in the server's memory; the browser holds only a random token in a cookie that is
  HttpOnly, SameSite=Lax and Secure over https. Logging in issues a new token (no fixation); a
  restart logs everyone out, which is the safe direction.
- Every state-changing request (all are POST forms) carries the session's CSRF token; routes are
  made with `form_route`, which checks it before the handler runs.
- Failed logins are counted per client: after `LoginLimiter.attempts` in its window, every login
  from that client is refused with 429, even the right password, until the window has passed.
- Bound to loopback, only a loopback Host header is served (a web page cannot reach the station
  through DNS rebinding); beyond loopback, only the names in the allowed-hosts list
  (StationConfig.served_hosts). Listening beyond loopback is allowed only once a password is set, and
  the gate refuses every page if that password file disappears later.
- Every response carries headers that forbid framing, MIME sniffing and any script, style or
  image from elsewhere (a strict Content-Security-Policy: no inline script at all).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from edge_all.accounts.web import COOKIE as ACCOUNT_COOKIE
from edge_all.accounts.web import CSRF_FIELD, MAX_FORM_FIELDS, SECURITY_HEADERS
from edge_all.station.config import is_loopback
from edge_all.station.passwords import PasswordHash, read_password_file
from edge_all.station.people import LOCAL, SHARED, StationPeople, Who

SHARED_WHO = Who(SHARED)

COOKIE = "edge_all_station"
IDLE_SECONDS = 8 * 3600  # a session unused for a working day ends
PUBLIC_PATHS = ("/login", "/static/")  # reachable before logging in


@dataclass
class WebSession:
    token: str
    csrf: str
    authenticated: bool = False
    reviewer: str = ""  # the name last used for a review, offered again
    last_seen: float = field(default_factory=time.monotonic)
    new: bool = True  # the cookie still has to be sent
    who: Who = SHARED_WHO  # a person (their session is in the accounts database), or the shared password


class SessionStore:
    """Sessions by token, the least recently used dropped beyond `limit`."""

    def __init__(self, limit: int = 1000) -> None:
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, token: str | None) -> WebSession | None:
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None:
                return None
            if time.monotonic() - session.last_seen > IDLE_SECONDS:
                del self._sessions[session.token]
                return None
            session.last_seen = time.monotonic()
            self._sessions.move_to_end(session.token)
            return session

    def new(self, authenticated: bool = False, reviewer: str = "") -> WebSession:
        session = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), authenticated, reviewer)
        with self._lock:
            self._sessions[session.token] = session
            while len(self._sessions) > self._limit:
                self._sessions.popitem(last=False)
        return session

    def drop(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)


class LoginLimiter:
    """Failed logins per client within a sliding window."""

    def __init__(self, attempts: int = 5, window_seconds: float = 900.0) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < self.attempts:
                return 0.0
            return max(0.0, failures[0] + self.window - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] < time.monotonic() - self.window:
            failures.popleft()
        return failures


class PasswordSource:
    """The station's password hash, re-read only when its file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._hash: PasswordHash | None = None

    def current(self) -> PasswordHash | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._hash = None, None
            return None
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._hash = read_password_file(self.path)
            self._seen = (stat.st_mtime_ns, stat.st_size)
        return self._hash


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _host_of(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Gate(BaseHTTPMiddleware):
    """Sessions, login, Host checks and security headers for every request."""

    def __init__(
        self,
        app,
        *,
        sessions: SessionStore,
        passwords: PasswordSource,
        loopback_only: bool,
        max_body: int,
        served_hosts: frozenset[str] = frozenset(),
        people: StationPeople | None = None,
    ) -> None:
        super().__init__(app)
        self.people = people
        self.max_body = max_body
        self.sessions = sessions
        self.passwords = passwords
        self.loopback_only = loopback_only
        self.served_hosts = served_hosts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await self._guarded(request, call_next)
        session: WebSession | None = getattr(request.state, "session", None)
        if session is not None and session.new:
            response.set_cookie(
                COOKIE, session.token, httponly=True, samesite="lax",
                secure=request.url.scheme == "https", path="/",
            )  # fmt: skip
            session.new = False
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    async def _guarded(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        host = _host_of(request).lower()
        if self.loopback_only and not is_loopback(host):
            return PlainTextResponse("this station answers only on this machine's own address", 421)
        if not self.loopback_only and host not in self.served_hosts:
            return PlainTextResponse(
                f"this station does not answer to the name {host[:100]!r}: its administrator can add it "
                "with --allowed-host (docs/station.md)",
                421,
            )
        if request.method not in ("GET", "HEAD"):
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return PlainTextResponse("a form must say its length", 411)
            if int(length) > self.max_body:
                return PlainTextResponse("too large for a form", 413)
        password = self.passwords.current()
        accounts = self.people is not None and await run_in_threadpool(self.people.has_accounts)
        if password is None and not accounts and not self.loopback_only:
            return PlainTextResponse(
                "no station password is set: set one with `edge-all serve --set-password`", 503
            )
        session = await self._person_session(request)
        if session is None:
            session = self.sessions.get(request.cookies.get(COOKIE)) or self.sessions.new()
            if password is None and not accounts:
                session.authenticated = True  # loopback only, and no password asked for
                session.who = Who(LOCAL)
        request.state.session = session
        public = request.url.path == "/login" or request.url.path.startswith("/static/")
        if not session.authenticated and not public:
            if request.method in ("GET", "HEAD"):
                return RedirectResponse(f"/login?next={_local_target(request)}", 303)
            return PlainTextResponse("log in first", 403)
        return await call_next(request)

    async def _person_session(self, request: Request) -> WebSession | None:
        """A person's session (accounts database), as the station's WebSession; None: there is none."""
        token = request.cookies.get(ACCOUNT_COOKIE)
        if self.people is None or not token:
            return None
        found = await run_in_threadpool(self.people.sessions.get, token)
        if found is None:
            return None
        person = found.person
        who = Who(person.actor, person)
        return WebSession(found.token, found.csrf, True, who.reviewer or "", new=False, who=who)


def _local_target(request: Request) -> str:
    from urllib.parse import quote

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return quote(target, safe="")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this station only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's; otherwise 403."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get(CSRF_FIELD)
    session: WebSession = request.state.session
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return form


FormHandler = Callable[[Request, FormData], Awaitable[Response]]


def form_route(path: str, handler: FormHandler) -> Route:
    """A POST route whose handler runs only after the CSRF check; every state change is one."""

    async def endpoint(request: Request) -> Response:
        return await handler(request, await checked_form(request))

    endpoint.csrf_checked = True  # type: ignore[attr-defined]
    endpoint.__name__ = handler.__name__
    return Route(path, endpoint, methods=["POST"])
