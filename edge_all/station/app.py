"""The station's pages and actions (Starlette routes, Jinja2 templates with autoescape on).

Pages read the results database, one short-lived connection per request (SQLite in WAL mode: a
reader never blocks the capture writing in its thread). Every state change is a POST form made
with `form_route` (CSRF-checked); pictures are served by capture id only (edge_all.station.images).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import jinja2
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from edge_all.accounts.people import AccountError, LoginRefused
from edge_all.accounts.schema import ROLES
from edge_all.accounts.web import COOKIE as ACCOUNT_COOKIE
from edge_all.accounts.web import local_time, set_cookie
from edge_all.clock import now_iso
from edge_all.errors import EdgeAllError
from edge_all.results.errors import StoreError
from edge_all.results.store import CellReview, ResultsStore, Review
from edge_all.results.summary import flagged_fields
from edge_all.station import export
from edge_all.station.commission_page import commission_routes
from edge_all.station.config import StationConfig
from edge_all.station.facts import ModelFactsCache, camera_facts, disk_facts
from edge_all.station.hospital import hospital_reviews, link_warning
from edge_all.station.images import KINDS, Thumbnails, allowed_roots, servable_file
from edge_all.station.passwords import retire_shared_password, verify_password
from edge_all.station.people import SHARED, StationPeople, Who
from edge_all.station.runner import CaptureRunner, clean_sample_id
from edge_all.station.security import (
    CSRF_FIELD,
    Gate,
    LoginLimiter,
    PasswordSource,
    SessionStore,
    client_of,
    form_route,
    safe_next,
)
from edge_all.station.site import StationSite
from edge_all.station.words import call_words, counts_words, field_words, many, review_keys
from edge_all.triage.screening import BENIGN_LABEL, INCONCLUSIVE, NO_ALL, REFER
from edge_all.triage.status import Status

LOCKED = (
    "This account is locked after too many failed sign-ins: try again in 15 minutes, "
    "or ask an administrator for a new password."
)
PAGE_SAMPLES = 50
PAGE_FIELDS = 48
REPORT_FLAGGED = 24  # flagged fields pictured in a report
MAX_BODY = 64 * 1024  # forms only: no uploads
MAX_TEXT = 2000  # a review comment
NOT_ASSESSABLE = "not assessable"
NOT_A_WHITE_CELL = "not a white cell"
CELLS_PER_CLASS = 48  # crops of one class on a gallery page
# The gallery's order of classes: what sends a slide to a specialist first (a cell model's label roles).
ROLE_ORDER = ("all_like", "refer", "not_all_like", "not_a_white_cell")
ROLE_WORDS_OF_CELLS = {
    "all_like": "ALL-like", "refer": "referred to a specialist", "not_all_like": "not ALL-like",
    "not_a_white_cell": "not a white cell",
}  # fmt: skip
SAMPLE_DECISIONS = (
    (REFER, "refer: ALL-like cells confirmed or suspected"),
    (NO_ALL, "no ALL-like cells"),
    (INCONCLUSIVE, "inconclusive: more fields or another test needed"),
)
PACKAGE = __name__.rpartition(".")[0]
ROLE_WORDS = {
    "capture": "capture slides", "review": "review slides", "accounts": "manage accounts",
    "commission": "commission the station (sign in as a technician or an administrator)",
}  # fmt: skip


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(PACKAGE, "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["local"] = local_time
    env.filters["qs"] = lambda params: urlencode({k: v for k, v in params.items() if v is not None})
    env.filters["pct"] = lambda value: "" if value is None else f"{100 * value:.0f}%"
    env.filters["num"] = lambda value, digits=1: "" if value is None else f"{value:.{digits}f}"
    env.filters["many"] = many
    env.globals.update(
        field_words=field_words, call_words=call_words, counts_words=counts_words, review_keys=review_keys
    )
    return Jinja2Templates(env=env)


class Station:
    """The application's state: settings, the capture runner, sessions, caches."""

    def __init__(self, config: StationConfig) -> None:
        self.config = config
        self.site = StationSite(config.site_path, config.model)  # the commissioned site, read per slide
        self.runner = CaptureRunner(config, self.site)
        self.sessions = SessionStore()
        self.limiter = LoginLimiter()
        self.passwords = PasswordSource(config.password_file)
        self.model = ModelFactsCache(config.model.path)
        self.thumbnails = Thumbnails()
        self.templates = _templates()
        self.people = StationPeople(config.accounts_path, config.station_name)

    def store(self) -> ResultsStore:
        return ResultsStore.open(self.config.db)

    def audit(self, request: Request, action: str, subject: str = "", **detail: Any) -> None:
        """One row of the append-only audit: who (the signed-in person, or the shared password) did what."""
        self.people.record(request.state.session.who.actor, action, subject, client_of(request), **detail)

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        session = request.state.session
        base = {
            "station": self.config.station_name,
            "csrf": session.csrf,
            "csrf_field": CSRF_FIELD,
            "reviewer": session.reviewer,
            "login_enabled": self.passwords.current() is not None or session.who.person is not None,
            "capture": self.runner.snapshot(),
            "path": request.url.path,
            "benign": BENIGN_LABEL,
            "not_all_like": frozenset({BENIGN_LABEL}),  # a page of one sample gives its roles' labels
            "Status": Status,  # the status words, for the templates
            "link_warning": link_warning(self.config.db),
            "signed_in": session.authenticated,
            "who": session.who,
            "plain_http": self.config.plain_http_beyond_loopback,
            "site_state": self.site.current(),  # "not commissioned" on every page until it is
        }
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _require(request: Request, what: str) -> Who:
    """The person acting, once their role may do `what` (capture, review, accounts); otherwise 403."""
    who: Who = request.state.session.who
    if not who.may(what):
        raise HTTPException(403, f"your role ({who.role}) may not {ROLE_WORDS[what]}: ask an administrator")
    return who


def _page(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def _sample_param(request: Request) -> str:
    sample_id = request.query_params.get("id")
    if sample_id is None:
        raise HTTPException(404, "no slide named")
    return sample_id


def build_app(config: StationConfig) -> Starlette:
    station = Station(config)

    # ---- pages ---------------------------------------------------------------------------------
    def home(request: Request) -> Response:
        return station.render(
            request,
            "station.html",
            {
                "model": station.model.get(),
                "camera": camera_facts(config.camera),
                "disks": [disk_facts(config.db)]
                + ([disk_facts(config.frames_dir)] if config.frames_dir else []),
                "config": config,
            },
        )

    def new_slide(
        request: Request,
        error: str | None = None,
        status: int = 200,
        reviewed: dict[str, Any] | None = None,
        asked: dict[str, str] | None = None,
    ) -> Response:
        state = station.runner.snapshot()
        sample, not_all_like = None, frozenset({BENIGN_LABEL})
        if state.sample_id is not None:
            with station.store() as store:
                sample = store.sample(state.sample_id)
                not_all_like = store.not_all_like(state.sample_id)
        return station.render(
            request,
            "new.html",
            {"state": state, "sample": sample, "error": error, "config": config, "reviewed": reviewed,
             "asked": asked or {}, "not_all_like": not_all_like},
            status,
        )  # fmt: skip

    def last_review(sample_id: str) -> dict[str, Any] | None:
        """The latest review of the whole slide, here or at the hospital (a sign-off), or None."""
        with station.store() as store:
            local = [r for r in store.reviews(sample_id) if r["capture_id"] is None]
        signoffs = [
            {**r, "where": "at the hospital"}
            for r in hospital_reviews(config.db, [sample_id]).get(sample_id, [])
            if r["signoff"]
        ]
        found = [{**r, "where": "on this station"} for r in local] + signoffs
        return max(found, key=lambda r: r["reviewed_at"]) if found else None

    def capture_state(request: Request) -> Response:
        state = station.runner.snapshot()
        sample, not_all_like = None, frozenset({BENIGN_LABEL})
        if state.sample_id is not None:
            with station.store() as store:
                sample = store.sample(state.sample_id)
                not_all_like = store.not_all_like(state.sample_id)
        words = {
            "field": field_words(state.last, not_all_like).to_dict() if state.last else None,
            "call": call_words(sample).to_dict(),
            "counts": counts_words(sample),
        }
        return JSONResponse({**state.to_dict(), "sample": sample, "words": words})

    def slides(request: Request) -> Response:
        search = request.query_params.get("q", "").strip()[:100]
        page = _page(request)
        with station.store() as store:
            total = store.count_samples(search)
            items = store.samples(search, limit=PAGE_SAMPLES, offset=(page - 1) * PAGE_SAMPLES)
            reviewed = store.fields_after_review(item["sample_id"] for item in items)
        pages = max(1, math.ceil(total / PAGE_SAMPLES))
        return station.render(
            request,
            "slides.html",
            {
                "items": items,
                "reviewed": reviewed,
                "q": search,
                "page": page,
                "pages": pages,
                "total": total,
                "hospital": hospital_reviews(config.db, [item["sample_id"] for item in items]),
            },  # fmt: skip
        )

    def slide(request: Request) -> Response:
        sample_id = _sample_param(request)
        flagged = request.query_params.get("show") == "flagged"
        page = _page(request)
        with station.store() as store:
            sample = store.sample(sample_id)
            if sample is None:
                raise HTTPException(404, "no such slide")
            fields = store.captures_page(
                sample_id, limit=PAGE_FIELDS, offset=(page - 1) * PAGE_FIELDS, flagged=flagged
            )
            reviews = store.reviews(sample_id)
            labels = store.session_rule(fields[0]["session_id"])[1] if fields else []
            fields = [with_cells(store, field) for field in fields]  # a cell model's boxes (issue 22)
            after_review = store.fields_after_review([sample_id]).get(sample_id)
            sessions = store.sessions_of_sample(sample_id)
            not_all_like = store.not_all_like(sample_id)
        shown = flagged_fields(sample) if flagged else sample["fields"]
        by_field: dict[int, list[dict]] = {}
        for review in reviews:
            if review["capture_id"] is not None:
                by_field.setdefault(review["capture_id"], []).append(review)
        return station.render(
            request,
            "slide.html",
            {
                "sample": sample, "fields": fields, "by_field": by_field, "labels": labels,
                "sample_reviews": [r for r in reviews if r["capture_id"] is None],
                "hospital": hospital_reviews(config.db, [sample_id]).get(sample_id, []),
                "decisions": SAMPLE_DECISIONS, "not_assessable": NOT_ASSESSABLE, "flagged": flagged,
                "page": page, "pages": max(1, math.ceil(shown / PAGE_FIELDS)),
                "after_review": after_review, "sessions": sessions, "not_all_like": not_all_like,
            },
        )  # fmt: skip

    def field_page(request: Request) -> Response:
        """One field full size, its heat map and legend, its reviews, and the way back to its slide page."""
        try:
            capture_id = int(request.query_params.get("id", ""))
        except ValueError:
            raise HTTPException(404, "no such field") from None
        with station.store() as store:
            field = store.capture(capture_id)
            if field is None:
                raise HTTPException(404, "no such field")
            sample = store.sample(field["sample_id"])
            reviews = [r for r in store.reviews(field["sample_id"]) if r["capture_id"] == capture_id]
            field = with_cells(store, field)
            not_all_like = store.not_all_like(field["sample_id"])
        show = "flagged" if request.query_params.get("show") == "flagged" else None
        back = {"page": _page(request), "show": show}
        highlight = request.query_params.get("cell", "")
        return station.render(
            request, "field.html",
            {"field": field, "sample": sample, "reviews": reviews, "back": back,
             "highlight": int(highlight) if highlight.isdigit() else None, "not_all_like": not_all_like},
        )  # fmt: skip

    def gallery(request: Request) -> Response:
        """The slide's white cells as crops grouped by the model's class, ALL-like classes first, each
        with the model's confidence, a link to its box on the field, and a per-cell review."""
        sample_id = _sample_param(request)
        only = request.query_params.get("label")
        page = _page(request)
        with station.store() as store:
            sample = store.sample(sample_id)
            if sample is None:
                raise HTTPException(404, "no such slide")
            roles = store.label_roles(sample_id) or {}
            counts = store.cell_classes(sample_id)
            sessions = store.sessions_of_sample(sample_id)
            labels = store.session_rule(sessions[-1]["id"])[1] if sessions else list(roles)
            order = list(dict.fromkeys([*roles, *labels, *sorted(counts)]))

            def rank(label: str) -> tuple[int, int]:
                role = roles.get(label)
                return (ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER), order.index(label))

            classes = sorted(counts, key=rank)
            shown = [only] if only in counts else classes
            offset = (page - 1) * CELLS_PER_CLASS if only in counts else 0
            groups = [
                {"label": label, "role": ROLE_WORDS_OF_CELLS.get(roles.get(label, ""), "role not given"),
                 "count": counts[label],
                 "cells": store.sample_cells(sample_id, label, limit=CELLS_PER_CLASS, offset=offset)}
                for label in shown
            ]  # fmt: skip
            reviews: dict[int, list[dict]] = {}
            for review in store.cell_reviews(sample_id):
                reviews.setdefault(review["cell_id"], []).append(review)
        pages = math.ceil(counts[only] / CELLS_PER_CLASS) if only in counts else 1
        return station.render(
            request, "cells.html",
            {"sample": sample, "groups": groups, "classes": [(c, counts[c]) for c in classes],
             "roles": {c: ROLE_WORDS_OF_CELLS.get(roles.get(c, ""), "") for c in classes},
             "labels": labels, "reviews": reviews, "only": only if only in counts else None,
             "page": page, "pages": pages, "per_class": CELLS_PER_CLASS,
             "choices": [*labels, NOT_A_WHITE_CELL], "not_assessable": NOT_ASSESSABLE},
        )  # fmt: skip

    def report(request: Request) -> Response:
        sample_id = _sample_param(request)
        with station.store() as store:
            sample = store.sample(sample_id)
            if sample is None:
                raise HTTPException(404, "no such slide")
            flagged = store.captures_page(sample_id, limit=REPORT_FLAGGED, flagged=True)
            flagged = [with_cells(store, field) for field in flagged]  # each cell's box and label
            cell_reviews = store.cell_reviews(sample_id)
            not_all_like = store.not_all_like(sample_id)
            reviews = store.reviews(sample_id)
            sessions = store.sessions_of_sample(sample_id)
            reviewed = {r["capture_id"] for r in reviews if r["capture_id"] is not None}
            fields = {row["id"]: row for row in (store.capture(i) for i in sorted(reviewed)) if row}
        models = sorted({(s["model"], s["bundle_sha256"]) for s in sessions})
        station.audit(request, "view report", f"slide {sample_id}")
        return station.render(
            request,
            "report.html",
            {
                "sample": sample, "flagged": flagged, "reviews": reviews, "fields": fields,
                "models": models, "sessions": sessions, "now": now_iso(),
                "flagged_total": flagged_fields(sample), "cell_reviews": cell_reviews,
                "not_all_like": not_all_like,
                "current_model": station.model.get(),
                "latest_review": {r["capture_id"]: r for r in reviews if r["capture_id"] is not None},
            },
        )  # fmt: skip

    def export_csv(request: Request) -> Response:
        params = request.query_params
        with station.store() as store:
            if "id" in params:
                if store.sample(params["id"]) is None:
                    raise HTTPException(404, "no such slide")
                text, _ = export.slide_csv(store, params["id"])
                name = f"edge-all-{params['id']}.csv"
            else:
                try:
                    text, _ = export.range_csv(store, params.get("from", ""), params.get("to", ""))
                except EdgeAllError as exc:
                    raise HTTPException(400, str(exc)) from None
                name = f"edge-all-{params.get('from')}-to-{params.get('to')}.csv"
        safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]
        subject = f"slide {params['id']}" if "id" in params else f"{params.get('from')} to {params.get('to')}"
        station.audit(request, "export csv", subject)
        return Response(
            text.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
        )

    def field_picture(request: Request) -> Response:
        capture_id = request.path_params["capture_id"]
        kind = request.path_params["kind"]
        thumb = kind.endswith("-thumb")
        column = KINDS.get(kind.removesuffix("-thumb"))
        if column is None:
            raise HTTPException(404)
        with station.store() as store:
            row = store.capture(capture_id)
            session = store.session(row["session_id"]) if row else None
        path = servable_file(row[column] if row else None, allowed_roots(config.frames_dir, session))
        if path is None:
            raise HTTPException(404, "no picture kept for this field")
        headers = {"Cache-Control": "private, max-age=3600"}
        if not thumb:
            return FileResponse(path, headers=headers)
        data = station.thumbnails.get(capture_id, kind, path)
        if data is None:
            raise HTTPException(404, "the picture cannot be read")
        return Response(data, media_type="image/jpeg", headers=headers)

    def cells_svg(request: Request) -> Response:
        """A field's white cells as an SVG picture (the one template, _cells.html), for the live view
        to lay over the field as it arrives; 404 for a field without cells."""
        with station.store() as store:
            row = store.capture(request.path_params["capture_id"])
            field = with_cells(store, row) if row else None
        if not field or not field["cells"] or not field["frame_size"]:
            raise HTTPException(404, "no white cells recorded for this field")
        text = station.templates.get_template("_cells.html").render(field=field, labels_across=16)
        return Response(text, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})

    def cell_picture(request: Request) -> Response:
        """One white cell's crop: the boxed region of its stored field, cut on request and cached."""
        cell_id = request.path_params["cell_id"]
        with station.store() as store:
            cell = store.cell(cell_id)
            session = store.session(cell["session_id"]) if cell else None
            # Its field's other cells too: one decode of the picture cuts them all (then cached).
            boxes = (
                {other["id"]: tuple(other["box"]) for other in store.cells(cell["capture_id"])}
                if cell
                else {}
            )
        path = servable_file(cell["image_path"] if cell else None, allowed_roots(config.frames_dir, session))
        if cell is None or path is None:
            raise HTTPException(404, "no picture kept for this cell")
        data = station.thumbnails.cell(cell_id, path, boxes)
        if data is None:
            raise HTTPException(404, "the picture cannot be read")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    def login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        return station.render(
            request,
            "login.html",
            {"error": error, "next": safe_next(request.query_params.get("next")),
             "accounts": station.people.has_accounts(), "shared": station.passwords.current() is not None},
            status,
        )  # fmt: skip

    # ---- actions -------------------------------------------------------------------------------
    async def start_capture(request: Request, form: FormData) -> Response:
        _require(request, "capture")
        count_text = str(form.get("count", "")).strip()
        try:
            count = int(count_text) if count_text else None
            if count is not None and count < 1:
                raise ValueError
        except ValueError:
            return await run_in_threadpool(
                new_slide, request, "the number of fields must be a whole number", 400
            )
        manual = form.get("mode") == "manual"
        asked = {
            "sample_id": str(form.get("sample_id", "")),
            "count": count_text,
            "mode": "manual" if manual else "",
        }
        try:
            sample_id = clean_sample_id(asked["sample_id"])
        except EdgeAllError as exc:
            return await run_in_threadpool(new_slide, request, str(exc), 409)
        # A reviewed slide is never changed silently: its fields go on only once the technician
        # confirms a new session of that sample (and the slide then says new fields arrived).
        reviewed = await run_in_threadpool(last_review, sample_id)
        if reviewed is not None and form.get("new_session") != "yes":
            return await run_in_threadpool(new_slide, request, None, 409, reviewed, asked)
        try:
            station.runner.start(sample_id, count, manual)
        except EdgeAllError as exc:
            return await run_in_threadpool(new_slide, request, str(exc), 409)
        detail = {"mode": "manual" if manual else "timed", "count": count}
        if reviewed is not None:
            detail["after_review_of"] = reviewed["reviewed_at"]  # a new session of a reviewed slide
        await run_in_threadpool(station.audit, request, "start capture", f"slide {sample_id}", **detail)
        return RedirectResponse("/new", 303)

    async def capture_field(request: Request, form: FormData) -> Response:
        """Capture this field (the button, or Space on New slide): a manual capture takes one field."""
        _require(request, "capture")
        try:
            station.runner.capture_field()
        except EdgeAllError as exc:
            if "application/json" in request.headers.get("accept", ""):
                return JSONResponse({"error": str(exc)}, 409)
            return await run_in_threadpool(new_slide, request, str(exc), 409)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"asked": station.runner.snapshot().asked})
        return RedirectResponse("/new", 303)

    async def stop_capture(request: Request, form: FormData) -> Response:
        _require(request, "capture")
        state = station.runner.snapshot()
        station.runner.stop()
        if state.active:
            await run_in_threadpool(station.audit, request, "stop capture", f"slide {state.sample_id}")
        return RedirectResponse("/new", 303)

    def review_form(request: Request, form: FormData) -> tuple[str, str, str | None]:
        """Who reviews, what they chose and their comment, from a review form (a field's, a slide's or
        a cell's); 400 without a name or without a choice: nothing is chosen for the reviewer."""
        who = _require(request, "review")
        # A person with an account is named by it; the shared password's user types their name.
        reviewer = who.reviewer or str(form.get("reviewer", "")).strip()[:100]
        decision = str(form.get("decision", "")).strip()[:100]
        comment = str(form.get("comment", "")).strip()[:MAX_TEXT] or None
        if not reviewer:
            raise HTTPException(400, "a review needs the reviewer's name")
        if not decision:
            raise HTTPException(400, "choose what you see: nothing is chosen for you")
        return reviewer, decision, comment

    def reviewed(request: Request, answer: dict[str, Any], back: str) -> Response:
        """A saved review's answer: JSON for the page's script (no reload), else back to the page."""
        request.state.session.reviewer = answer["reviewer"]
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(answer)
        return RedirectResponse(back, 303)

    async def add_review(request: Request, form: FormData) -> Response:
        reviewer, decision, comment = review_form(request, form)
        sample_id = str(form.get("sample_id", ""))
        capture_text = str(form.get("capture_id", "")).strip()
        where = {"id": sample_id, "page": form.get("page", "1"), "show": form.get("show", "")}
        back = f"/slide?{urlencode(where)}"
        capture_id = int(capture_text) if capture_text.isdigit() else None
        review = Review(sample_id, reviewer, decision, now_iso(), capture_id=capture_id, comment=comment)

        def save() -> None:
            with station.store() as store:
                if store.sample(sample_id) is None:
                    raise HTTPException(404, "no such slide")
                if capture_id is None:
                    allowed = [value for value, _ in SAMPLE_DECISIONS]
                else:
                    field = store.capture(capture_id)
                    if field is None:
                        raise HTTPException(404, "no such field")
                    allowed = [*store.session_rule(field["session_id"])[1], NOT_ASSESSABLE]
                if decision not in allowed:
                    raise HTTPException(400, f"{decision!r} is not one of the choices ({', '.join(allowed)})")
                store.add_review(review)
            what = "review field" if capture_id is not None else "review slide"
            station.audit(request, what, f"slide {sample_id}", field=capture_id, decision=decision,
                          reviewer=reviewer)  # fmt: skip

        try:
            await run_in_threadpool(save)
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None
        anchor = f"#field-{capture_id}" if capture_id is not None else "#slide-review"
        answer = {"decision": decision, "reviewer": reviewer, "reviewed_at": local_time(review.reviewed_at),
                  "capture_id": capture_id, "comment": comment}  # fmt: skip
        return reviewed(request, answer, back + anchor)

    async def add_cell_review(request: Request, form: FormData) -> Response:
        """A specialist's word on one white cell: one of the session's classes, not a white cell, or
        not assessable; stored beside the model's cell (schema 7) and audited."""
        reviewer, decision, comment = review_form(request, form)
        cell_text = str(form.get("cell_id", "")).strip()
        if not cell_text.isdigit():
            raise HTTPException(404, "no such cell")
        cell_id = int(cell_text)
        review = CellReview(cell_id, reviewer, decision, now_iso(), comment)

        def save() -> dict[str, Any]:
            with station.store() as store:
                cell = store.cell(cell_id)
                if cell is None:
                    raise HTTPException(404, "no such cell")
                allowed = [*store.session_rule(cell["session_id"])[1], NOT_A_WHITE_CELL, NOT_ASSESSABLE]
                if decision not in allowed:
                    raise HTTPException(400, f"{decision!r} is not one of the choices ({', '.join(allowed)})")
                store.add_cell_review(review)
            station.audit(request, "review cell", f"slide {cell['sample_id'] or ''}", cell=cell_id,
                          field=cell["capture_id"], model=cell["label"], decision=decision,
                          reviewer=reviewer)  # fmt: skip
            return cell

        try:
            cell = await run_in_threadpool(save)
        except StoreError as exc:
            raise HTTPException(400, str(exc)) from None
        where = {
            "id": cell["sample_id"] or "",
            "label": form.get("label") or None,
            "page": form.get("page", "1"),
        }
        back = f"/cells?{urlencode({k: v for k, v in where.items() if v})}#gallery-cell-{cell_id}"
        answer = {"decision": decision, "reviewer": reviewer, "reviewed_at": local_time(review.reviewed_at),
                  "cell_id": cell_id, "comment": comment}  # fmt: skip
        return reviewed(request, answer, back)

    async def login(request: Request, form: FormData) -> Response:
        client = client_of(request)
        wait = station.limiter.retry_after(client)
        if wait > 0:
            response = login_page(
                request, f"too many failed attempts: try again in {math.ceil(wait / 60)} min", 429
            )
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        stored = station.passwords.current()
        username = str(form.get("username", "")).strip()[:64]
        password = str(form.get("password", ""))[:200]
        target = safe_next(str(form.get("next", "/")))
        if username:  # a personal account: edge_all.accounts checks, locks out and audits it
            try:
                person = await run_in_threadpool(
                    station.people.accounts.authenticate, username, password, client
                )
            except LoginRefused as refused:
                station.limiter.failed(client)
                if refused.locked:
                    return login_page(request, LOCKED, 429)
                return login_page(request, "wrong username or password", 401)
            station.limiter.succeeded(client)
            started = await run_in_threadpool(station.people.sessions.start, person, client)
            station.sessions.drop(request.state.session.token)
            response = RedirectResponse(target, 303)
            set_cookie(response, request, ACCOUNT_COOKIE, started.token)  # a new token: no fixation
            return response
        if stored is None or not await run_in_threadpool(verify_password, password, stored):
            station.limiter.failed(client)
            await run_in_threadpool(
                station.people.record, SHARED, "login refused", "station password", client
            )
            words = "wrong username or password" if stored is None else "wrong password"
            return login_page(request, words, 401)
        station.limiter.succeeded(client)
        station.sessions.drop(request.state.session.token)
        request.state.session = station.sessions.new(authenticated=True)  # a new token: no fixation
        await run_in_threadpool(station.people.record, SHARED, "login", "station password", client)
        return RedirectResponse(target, 303)

    async def logout(request: Request, form: FormData) -> Response:
        session = request.state.session
        response = RedirectResponse("/login", 303)
        if session.who.person is not None:
            await run_in_threadpool(station.people.sessions.end, session.token)
            await run_in_threadpool(station.audit, request, "logout", f"person {session.who.person.username}")
            response.delete_cookie(ACCOUNT_COOKIE, path="/")
        else:
            station.sessions.drop(session.token)
        request.state.session = station.sessions.new()
        return response

    # ---- accounts (administrators) ----------------------------------------------------------------
    def accounts_page(request: Request, error: str | None = None, status: int = 200) -> Response:
        _require(request, "accounts")
        return station.render(
            request, "accounts.html",
            {"people": station.people.accounts.people(), "roles": ROLES,
             "error": error, "shared": station.passwords.current() is not None,
             "entries": station.people.entries(100)},
            status,
        )  # fmt: skip

    async def account_action(request: Request, form: FormData) -> Response:
        """Add an account, set a password, disable or enable one, or retire the shared password."""
        who = _require(request, "accounts")
        action = str(form.get("action", ""))
        username = str(form.get("username", "")).strip()[:64]
        password = str(form.get("password", ""))[:200]

        def act() -> None:
            if action == "add":
                role = str(form.get("role", ""))
                station.people.add_person(username, str(form.get("display_name", "")).strip()[:200], role,
                                          password, who.actor)  # fmt: skip
            elif action == "password":
                station.people.accounts.set_password(username, password, who.actor)
            elif action in ("disable", "enable"):
                if who.person is not None and username == who.person.username and action == "disable":
                    raise AccountError("you cannot disable your own account")
                station.people.accounts.set_active(username, action == "enable", who.actor)
            elif action == "retire-shared":
                retire_shared_password(config.password_file)
                station.people.record(who.actor, "retire shared password", "station password",
                                      client_of(request))  # fmt: skip
            else:
                raise AccountError("no such action")

        try:
            await run_in_threadpool(act)
        except EdgeAllError as exc:
            return await run_in_threadpool(accounts_page, request, str(exc), 400)
        return RedirectResponse("/accounts", 303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not hasattr(request.state, "session"):
            return Response(exc.detail, status_code=exc.status_code, media_type="text/plain")
        return station.render(
            request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(station.runner.shutdown)

    routes = [
        Route("/", home),
        Route("/new", new_slide),
        Route("/capture/state", capture_state),
        Route("/slides", slides),
        Route("/slide", slide),
        Route("/field", field_page),
        Route("/cells", gallery),
        Route("/report", report),
        Route("/export.csv", export_csv),
        Route("/field/{capture_id:int}/cells.svg", cells_svg),
        Route("/field/{capture_id:int}/{kind:str}", field_picture),
        Route("/cell/{cell_id:int}/crop", cell_picture),
        Route("/login", login_page),
        Route("/accounts", accounts_page),
        form_route("/accounts", account_action),
        form_route("/capture/start", start_capture),
        form_route("/capture/field", capture_field),
        form_route("/capture/stop", stop_capture),
        form_route("/review", add_review),
        form_route("/cell-review", add_cell_review),
        *commission_routes(station, _require),
        form_route("/login", login),
        form_route("/logout", logout),
        Mount("/static", StaticFiles(packages=[(PACKAGE, "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.add_middleware(
        Gate,
        sessions=station.sessions,
        passwords=station.passwords,
        loopback_only=config.loopback_only,
        max_body=MAX_BODY,
        served_hosts=config.served_hosts,
        people=station.people,
    )
    app.state.station = station
    return app


def with_cells(store: ResultsStore, field: dict) -> dict:
    """A field row with its white cells and its picture's size in pixels (the boxes' frame), so the
    slide page can draw each cell's box and label over the picture; a whole-field model's field
    has no cells."""
    cells = store.cells(field["id"])
    size = None
    if cells and field.get("image_path"):
        try:
            with Image.open(field["image_path"]) as picture:
                size = picture.size
        except (OSError, ValueError):
            size = None
    return {**field, "cells": cells, "frame_size": size}
