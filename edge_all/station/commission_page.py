"""The Commission page: a technician or an administrator commissions the station from a slide's fields.

The control smear is captured as any slide is (New slide, a sample id such as `control-2026-12-08`);
this page then commissions the station on that slide's captured fields (edge_all.station.site: the
CLI's own steps), shows the verdict and the commissioning report, and names the profile in use. Every
commissioning is audited. Who may: MAY["commission"] (edge_all.station.people).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from edge_all.errors import EdgeAllError
from edge_all.site.commission import ADVISED_IMAGES, MIN_IMAGES
from edge_all.station.security import form_route
from edge_all.station.site import Commissioning
from edge_all.triage.status import Status
from edge_all.triage.thresholds import QualityThresholds

MAX_SLIDES = 200  # slides offered to commission from (the latest)


def captured_fields(store: Any, sample_id: str) -> list[Path]:
    """The pictures kept of a slide's fields (errors aside), in the order they were captured."""
    return [
        Path(row["image_path"])
        for row in store.captures(sample_id=sample_id)
        if row["image_path"] and row["status"] != Status.ERROR
    ]


def commission_routes(station: Any, require: Callable[[Request, str], Any]) -> list[Route]:
    """GET and POST /commission, and GET /commission/report (the site's report.html)."""

    def page(
        request: Request,
        result: Commissioning | None = None,
        error: str | None = None,
        asked: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        require(request, "commission")
        with station.store() as store:
            slides = store.samples(limit=MAX_SLIDES)
        return station.render(
            request, "commission.html",
            {"slides": slides, "result": result, "error": error, "asked": asked or {},
             "has_report": station.site.report is not None, "site_dir": station.site.site_dir,
             "min_images": MIN_IMAGES, "advised_images": ADVISED_IMAGES},
            status,
        )  # fmt: skip

    async def commission(request: Request, form: FormData) -> Response:
        who = require(request, "commission")
        sample_id = str(form.get("sample_id", ""))[:200]
        stated_text = str(form.get("stated_um_per_px", "")).strip()
        asked = {"sample_id": sample_id, "stated_um_per_px": stated_text}
        try:
            stated = float(stated_text) if stated_text else None
            if stated is not None and not 0.01 <= stated <= 10.0:
                raise ValueError
        except ValueError:
            return await run_in_threadpool(
                page,
                request,
                None,
                "the stated scale must be a number of um per pixel, 0.01 to 10",
                asked,
                400,
            )

        def run() -> Commissioning:
            with station.store() as store:
                if not store.has_sample(sample_id):
                    raise HTTPException(404, "no such slide")
                images = captured_fields(store, sample_id)
            limits = station.config.capture.quality or QualityThresholds()
            return station.site.commission(images, limits, stated)

        try:
            result = await run_in_threadpool(run)
        except EdgeAllError as exc:  # refused (nothing touched), or one already running
            await run_in_threadpool(
                station.audit, request, "commission refused", f"slide {sample_id}", reason=str(exc)
            )
            return await run_in_threadpool(page, request, None, str(exc), asked, 409)
        await run_in_threadpool(
            station.audit, request, "commission", f"slide {sample_id}",
            ready=result.profile.verdict.ready, images=len(result.profile.images), by=who.role,
        )  # fmt: skip
        return await run_in_threadpool(page, request, result, None, asked)

    def report(request: Request) -> Response:
        require(request, "commission")
        path = station.site.report
        if path is None:
            raise HTTPException(404, "no commissioning report yet")
        return FileResponse(path, media_type="text/html; charset=utf-8")

    return [
        Route("/commission", page),
        form_route("/commission", commission),
        Route("/commission/report", report),
    ]
