"""The hub's pages for people (worklist, slide, review, sign-off, report, audit) and the devices' API.

Same stack and rules as the station: Jinja2 with autoescape, every state change a CSRF-checked POST,
a strict Content-Security-Policy with no inline script, sessions server-side (in the database, so
every worker and a restarted hub share them). Every view of a slide, review and sign-off is audited.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from edge_all.accounts import audit, clock
from edge_all.accounts.audit import record
from edge_all.accounts.database import is_sqlite, open_engine
from edge_all.accounts.devices import Devices
from edge_all.accounts.people import Accounts, LoginRefused, Person
from edge_all.accounts.sessions import Sessions, WebSession
from edge_all.accounts.web import (
    COOKIE,
    CSRF_FIELD,
    PRE_LOGIN_COOKIE,
    SECURITY_HEADERS,
    checked_form,
    client_of,
    local_time,
    safe_next,
    set_cookie,
)
from edge_all.hub import migrate
from edge_all.hub.api import DeviceApi
from edge_all.hub.blobs import open_blobs
from edge_all.hub.config import HubConfig
from edge_all.hub.standards_outbox import HubStandards
from edge_all.hub.standards_settings import StandardsSettings
from edge_all.hub.standards_settings import load as load_standards
from edge_all.hub.standards_worker import StandardsWorker
from edge_all.hub.storage import SIGNOFF_DECISIONS, HubStore
from edge_all.standards.errors import ExportError
from edge_all.standards.records import Patient
from edge_all.triage.screening import INCONCLUSIVE, NO_ALL, REFER

log = logging.getLogger("edge_all.hub")
PACKAGE = __name__.rpartition(".")[0]
PAGE_FIELDS = 48
MAX_FORM = 64 * 1024
MAX_TEXT = 2000
NOT_ASSESSABLE = "not assessable"
DECISION_WORDS = {
    REFER: "refer: ALL-like cells confirmed or suspected",
    NO_ALL: "no ALL-like cells",
    INCONCLUSIVE: "inconclusive: more fields or another test needed",
}
PUBLIC = ("/login", "/static/", "/healthz")
LOCKED = (
    "This account is locked after too many failed sign-ins: try again in 15 minutes, "
    "or ask an administrator for a new password."
)


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["local"] = local_time
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v is not None})
    env.filters["pct"] = lambda value: "" if value is None else f"{100 * value:.0f}%"
    return Jinja2Templates(env=env)


class Gate(BaseHTTPMiddleware):
    """Who is asking: a person's session for pages (the API checks devices itself); security headers."""

    def __init__(self, app, *, sessions: Sessions) -> None:
        super().__init__(app)
        self.sessions = sessions

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await self._guarded(request, call_next)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def _guarded(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        request.state.session = None
        if path.startswith("/api/"):
            return await call_next(request)
        if request.method not in ("GET", "HEAD"):
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return PlainTextResponse("a form must say its length", 411)
            if int(length) > MAX_FORM:
                return PlainTextResponse("too large for a form", 413)
        session = await run_in_threadpool(self.sessions.get, request.cookies.get(COOKIE))
        request.state.session = session
        public = any(
            path == prefix or (prefix.endswith("/") and path.startswith(prefix)) for prefix in PUBLIC
        )
        if session is None and not public:
            if request.method in ("GET", "HEAD"):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)
            return PlainTextResponse("sign in first", 403)
        return await call_next(request)


class Hub:
    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.engine = open_engine(config.database, pool_size=10)
        if config.migrate:
            migrate.upgrade(self.engine)
        self.accounts = Accounts(self.engine)
        self.sessions = Sessions(self.engine, self.accounts)
        self.devices = Devices(self.engine)
        self.store = HubStore(self.engine)
        self.blobs = open_blobs(config.pictures, config.s3_endpoint)
        settings = load_standards(Path(config.standards)) if config.standards else StandardsSettings()
        self.standards = HubStandards(self.engine, self.store, self.accounts, self.blobs, settings)
        self.templates = _templates()

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        session: WebSession | None = request.state.session
        base = {
            "hub_name": self.config.name, "path": request.url.path, "csrf_field": CSRF_FIELD,
            "person": session.person if session else None, "csrf": session.csrf if session else "",
        }  # fmt: skip
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _person(request: Request) -> Person:
    return request.state.session.person


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(404, f"no such {what}") from None


def _patient(form) -> tuple[str, str] | None:
    """The patient's id and name as the specialist typed them from the hospital's record, if at all."""
    patient_id = str(form.get("patient_id", "")).strip()
    name = str(form.get("patient_name", "")).strip()
    if not patient_id:
        if name:
            raise HTTPException(400, "a patient name needs the patient id from the hospital's record")
        return None
    try:
        Patient(patient_id, name)
    except ExportError as error:
        raise HTTPException(400, str(error)) from None
    return patient_id, name


def build_app(config: HubConfig) -> Starlette:
    hub = Hub(config)
    api = DeviceApi(hub.store, hub.devices, hub.blobs)

    def posted(handler: Callable[[Request, Any], Awaitable[Response]]):
        async def endpoint(request: Request) -> Response:
            session = request.state.session
            form = await checked_form(request, session.csrf if session else "")
            return await handler(request, form)

        endpoint.__name__ = handler.__name__
        return endpoint

    # ---- signing in -------------------------------------------------------------------------------
    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        token = request.cookies.get(PRE_LOGIN_COOKIE) or secrets.token_urlsafe(32)
        response = hub.render(
            request, "login.html",
            {"error": error, "next": safe_next(request.query_params.get("next")), "csrf": token}, status,
        )  # fmt: skip
        set_cookie(response, request, PRE_LOGIN_COOKIE, token)
        return response

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_page(request)
        form = await checked_form(request, request.cookies.get(PRE_LOGIN_COOKIE, ""))
        username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:200]
        try:
            person = await run_in_threadpool(
                hub.accounts.authenticate, username, password, client_of(request)
            )
        except LoginRefused as refused:
            if refused.locked:
                return login_page(request, LOCKED, 429)
            return login_page(request, "Wrong username or password.", 401)
        session = await run_in_threadpool(hub.sessions.start, person, client_of(request))
        response = RedirectResponse(safe_next(str(form.get("next", "/"))), 303)
        set_cookie(response, request, COOKIE, session.token)
        response.delete_cookie(PRE_LOGIN_COOKIE, path="/")
        return response

    async def logout(request: Request, form) -> Response:
        session = request.state.session
        await run_in_threadpool(hub.sessions.end, session.token)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ---- pages ----------------------------------------------------------------------------------
    def visible_clinics(person: Person):
        return [c for c in hub.accounts.clinics() if person.may_see(c.id)]

    def worklist(request: Request) -> Response:
        person = _person(request)
        show = request.query_params.get("show", "open")
        show = show if show in ("open", "signed", "all") else "open"
        clinic = request.query_params.get("clinic") or None
        clinics = visible_clinics(person)
        slides = hub.store.worklist(person, show, clinic if clinic and person.may_see(clinic) else None)
        return hub.render(
            request, "worklist.html",
            {"slides": slides, "show": show, "clinic": clinic, "clinics": clinics,
             "clinic_names": {c.id: c.name for c in clinics}},
        )  # fmt: skip

    def visible_slide(request: Request, slide_id: int) -> dict:
        slide = hub.store.slide(slide_id)
        if slide is None or not _person(request).may_see(slide["clinic_id"]):
            raise HTTPException(404, "no such slide")  # another clinic's slide does not exist for you
        return slide

    def audit_view(request: Request, slide: dict, action: str) -> None:
        with hub.engine.begin() as connection:
            subject = f"slide {slide['clinic_id']}/{slide['sample_id']}"
            record(connection, _person(request).actor, action, subject,
                   clinic_id=slide["clinic_id"], client=client_of(request))  # fmt: skip

    def slide_context(request: Request, slide: dict) -> dict[str, Any]:
        reviews = hub.store.reviews(slide["id"])
        by_field: dict[int, list[dict]] = {}
        for review in reviews:
            if review["field_id"] is not None:
                by_field.setdefault(review["field_id"], []).append(review)
        clinic = hub.accounts.clinic(slide["clinic_id"])
        return {
            "slide": slide, "by_field": by_field,
            "clinic_name": clinic.name if clinic else slide["clinic_id"],
            "slide_reviews": [review for review in reviews if review["field_id"] is None],
        }  # fmt: skip

    def slide_page(request: Request) -> Response:
        slide = visible_slide(request, _int(request.query_params.get("id"), "slide"))
        flagged = request.query_params.get("show") == "flagged"
        page = max(1, _int(request.query_params.get("page", "1"), "page"))
        received = hub.store.count_fields(slide["id"])
        fields = hub.store.fields(
            slide["id"], flagged=flagged, limit=PAGE_FIELDS, offset=(page - 1) * PAGE_FIELDS
        )
        labels = (fields or hub.store.fields(slide["id"], limit=1) or [{"labels": []}])[0]["labels"]
        audit_view(request, slide, "view slide")
        person = _person(request)
        return hub.render(
            request, "slide.html",
            {**slide_context(request, slide), "fields": fields, "flagged": flagged, "page": page,
             "pages": max(1, math.ceil(received / PAGE_FIELDS)), "received": received, "labels": labels,
             "not_assessable": NOT_ASSESSABLE,
             "decisions": [(decision, DECISION_WORDS[decision]) for decision in SIGNOFF_DECISIONS],
             "may_sign": person.role in ("specialist", "administrator"),
             "deliveries": hub.standards.for_slide(slide["id"]),
             "export_request": hub.standards.latest_request(slide["id"]),
             "standards_configured": hub.standards.settings.any},
        )  # fmt: skip

    def report(request: Request) -> Response:
        slide = visible_slide(request, _int(request.query_params.get("id"), "slide"))
        flagged = hub.store.fields(slide["id"], flagged=True, limit=24)
        audit_view(request, slide, "print report")
        return hub.render(request, "report.html", {**slide_context(request, slide), "flagged": flagged,
                                                   "now": clock.now_iso()})  # fmt: skip

    def picture(request: Request) -> Response:
        field = hub.store.field(_int(request.path_params["field_id"], "field"))
        if field is None or not _person(request).may_see(field["clinic_id"]) or not field["image_sha256"]:
            raise HTTPException(404, "no such picture")
        data = hub.blobs.get(field["image_sha256"])
        if data is None:
            raise HTTPException(404, "the picture is missing from the store")
        kind = (
            "image/png"
            if data[:8] == b"\x89PNG\r\n\x1a\n"
            else "image/jpeg"
            if data[:2] == b"\xff\xd8"
            else None
        )
        if kind is None:
            raise HTTPException(415, "not a PNG or JPEG picture")
        return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})

    def audit_page(request: Request) -> Response:
        if _person(request).role != "administrator":
            raise HTTPException(403, "the audit trail is for administrators")
        return hub.render(request, "audit.html", {"entries": audit.entries(hub.engine, limit=500)})

    # ---- a specialist's word --------------------------------------------------------------------
    def _may_sign(request: Request) -> Person:
        person = _person(request)
        if person.role not in ("specialist", "administrator"):
            raise HTTPException(403, "only a specialist reviews and signs off slides")
        return person

    async def review_field(request: Request, form) -> Response:
        person = _may_sign(request)
        slide = await run_in_threadpool(visible_slide, request, _int(form.get("slide"), "slide"))
        field = await run_in_threadpool(hub.store.field, _int(form.get("field"), "field"))
        if field is None or field["slide_id"] != slide["id"]:
            raise HTTPException(404, "no such field")
        labels = json.loads(field["payload"])["session"]["labels"]
        decision = str(form.get("decision", ""))
        if decision not in (*labels, NOT_ASSESSABLE):
            raise HTTPException(400, "choose what you see in the field")
        comment = str(form.get("comment", "")).strip()[:MAX_TEXT] or None
        await run_in_threadpool(lambda: hub.store.add_review(
            slide["id"], person, decision, comment, field_id=field["id"], signoff=False,
            client=client_of(request),
        ))  # fmt: skip
        return RedirectResponse(f"/slide?id={slide['id']}#field-{field['id']}", 303)

    async def signoff(request: Request, form) -> Response:
        person = _may_sign(request)
        slide = await run_in_threadpool(visible_slide, request, _int(form.get("slide"), "slide"))
        decision = str(form.get("decision", ""))
        if decision not in SIGNOFF_DECISIONS:
            raise HTTPException(400, "choose refer, no ALL-like cells or inconclusive")
        comment = str(form.get("comment", "")).strip()[:MAX_TEXT] or None
        patient = _patient(form)
        client = client_of(request)

        def sign() -> None:
            hub.store.add_review(slide["id"], person, decision, comment, field_id=None, signoff=True,
                                 client=client, patient=patient)  # fmt: skip
            hub.standards.request(slide, person.actor, "sign-off", client)  # queued for the PACS and FHIR

        await run_in_threadpool(sign)
        return RedirectResponse(f"/slide?id={slide['id']}", 303)

    # ---- the hospital's standards: DICOM to the PACS, FHIR to the record -------------------------------
    async def export(request: Request, form) -> Response:
        person = _may_sign(request)
        slide = await run_in_threadpool(visible_slide, request, _int(form.get("slide"), "slide"))
        if not hub.standards.settings.any:
            raise HTTPException(409, "no PACS or FHIR server is configured on this hub (docs/hub.md)")
        await run_in_threadpool(hub.standards.request, slide, person.actor, "on request", client_of(request))
        return RedirectResponse(f"/slide?id={slide['id']}#deliveries", 303)

    async def retry_delivery(request: Request, form) -> Response:
        person = _may_sign(request)
        slide = await run_in_threadpool(visible_slide, request, _int(form.get("slide"), "slide"))
        delivery = _int(form.get("delivery"), "delivery")
        if not await run_in_threadpool(
            hub.standards.retry, slide, delivery, person.actor, client_of(request)
        ):
            raise HTTPException(404, "no such delivery waiting on this slide")
        return RedirectResponse(f"/slide?id={slide['id']}#deliveries", 303)

    async def download(request: Request) -> Response:
        person = _may_sign(request)
        slide = await run_in_threadpool(visible_slide, request, _int(request.query_params.get("id"), "slide"))
        kind = request.path_params["kind"]
        name = f"{slide['clinic_id']}-{slide['id']}"
        try:
            if kind == "fhir":
                data = await run_in_threadpool(
                    hub.standards.fhir_json, slide, person.actor, client_of(request)
                )
                media, filename = "application/fhir+json", f"{name}-report.json"
            elif kind == "dicom":
                data = await run_in_threadpool(
                    hub.standards.dicom_zip, slide, person.actor, client_of(request)
                )
                media, filename = "application/zip", f"{name}-dicom.zip"
            else:
                raise HTTPException(404, "no such download")
        except ExportError as error:
            raise HTTPException(422, f"this slide cannot be exported: {error}") from None
        return Response(data, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    def healthz(request: Request) -> Response:
        with hub.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return JSONResponse({"ok": True, "database": "sqlite" if is_sqlite(hub.engine) else "postgresql"})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        if getattr(request.state, "session", None) is None:
            return PlainTextResponse(str(exc.detail), exc.status_code)
        return hub.render(
            request, "error.html", {"status": exc.status_code, "message": exc.detail}, exc.status_code
        )

    routes = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", posted(logout), methods=["POST"]),
        Route("/", worklist),
        Route("/slide", slide_page),
        Route("/report", report),
        Route("/picture/{field_id}", picture),
        Route("/audit", audit_page),
        Route("/review", posted(review_field), methods=["POST"]),
        Route("/signoff", posted(signoff), methods=["POST"]),
        Route("/export", posted(export), methods=["POST"]),
        Route("/delivery/retry", posted(retry_delivery), methods=["POST"]),
        Route("/download/{kind}", download),
        Route("/healthz", healthz),
        *api.routes(),
        Mount("/static", StaticFiles(packages=[(PACKAGE, "static")]), name="static"),
    ]
    middleware = [Middleware(Gate, sessions=hub.sessions)]
    if config.allowed_hosts:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts)))

    @asynccontextmanager
    async def lifespan(app: Starlette):
        worker = StandardsWorker(hub.standards, hub.standards.settings.interval_s)
        if hub.standards.settings.any:
            worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error},
                    lifespan=lifespan)  # fmt: skip
    app.state.hub = hub
    return app
