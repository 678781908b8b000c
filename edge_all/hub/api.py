"""The devices' side of the hub: enrolment, pictures by sha256, records, sign-offs back down.

A request is refused with a clear status, logged and audited, and the hub keeps serving:
401 no or a revoked credential, 400 malformed JSON or a body outside the schema, 411 no length,
413 too large, 422 a picture whose bytes do not hash to its name, and per record 403 (another
clinic's), 409 (an id reused with other content, or a picture not uploaded yet), 422 (its sha256).
"""

from __future__ import annotations

import io
import logging
from typing import Any

from jsonschema import Draft202012Validator
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge_all.accounts.audit import Actor, record
from edge_all.accounts.devices import Device, Devices, EnrolmentRefused
from edge_all.accounts.web import client_of
from edge_all.errors import FileError
from edge_all.hub.blobs import BlobMismatch, BlobStore
from edge_all.hub.storage import HubStore
from edge_all.jsonfile import non_finite_path, parse_json_object
from edge_all.safe_text import printable
from edge_all.sync.protocol import API, MAX_BLOB_BYTES, MAX_RECORDS_BYTES, PROTOCOL, SHA256, schema

log = logging.getLogger("edge_all.hub")
VALIDATOR = Draft202012Validator(schema())


class Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def _problem(status: int, why: str) -> JSONResponse:
    return JSONResponse({"error": why}, status_code=status)


def _json_object(raw: bytes) -> dict[str, Any]:
    """A body that is one JSON object, read as the device reads its own files (edge_all.jsonfile):
    nesting deeper than 32 levels, an integer of thousands of digits, NaN or infinity (which JSON
    does not have, and the database would keep as NULL) are a 400, never a RecursionError's 500."""
    try:
        data = parse_json_object(raw.decode("utf-8"), "the body", FileError).to_dict()
    except UnicodeDecodeError:
        raise Refused(400, "the body is not JSON (not UTF-8)") from None
    except FileError as exc:
        raise Refused(400, f"the body is not JSON we take ({str(exc).removeprefix('the body: ')})") from None
    bad = non_finite_path(data)
    if bad is not None:
        why = f"{printable(bad[0])}: {bad[1]} is not a JSON number"
        raise Refused(400, f"the body is not JSON we take ({why})")
    return data


def picture_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the picture's header (no decode), for drawing its cells; None when it is
    not a picture PIL reads (it is still stored: the clinic's bytes are kept as sent)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError):
        return None


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise Refused(411, "say the body's length (Content-Length)")
    if int(length) > limit:
        raise Refused(413, f"a body of {length} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if len(data) != int(length):
        raise Refused(400, "the body was cut off before its length")
    return data


class DeviceApi:
    def __init__(self, store: HubStore, devices: Devices, blob_store: BlobStore) -> None:
        self.store, self.devices, self.blobs = store, devices, blob_store

    def _refuse(self, request: Request, device: Device | None, status: int, why: str) -> JSONResponse:
        who = f"device {device.id} ({device.clinic_id})" if device else "an unknown device"
        log.warning("refused %s %s from %s, %s: %d %s", request.method, request.url.path, client_of(request),
                    who, status, why)  # fmt: skip
        if status != 401:  # an unauthenticated flood must not fill the audit
            actor = Actor.device(device.id) if device else Actor("device:?", "device")

            def audit() -> None:
                with self.store.engine.begin() as connection:
                    record(connection, actor, "upload refused", request.url.path[:300],
                           clinic_id=device.clinic_id if device else None, client=client_of(request),
                           detail={"status": status, "why": why})  # fmt: skip

            try:
                audit()
            except Exception:  # noqa: BLE001 - the refusal is answered even when the database is down
                log.exception("could not audit a refusal")
        return _problem(status, why)

    async def _device(self, request: Request) -> Device | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        return await run_in_threadpool(self.devices.by_token, header[7:].strip())

    def routes(self) -> list[Route]:
        return [
            Route(f"{API}/enrol", self.enrol, methods=["POST"]),
            Route(f"{API}/whoami", self.guarded(self.whoami), methods=["GET"]),
            Route(f"{API}/blobs/{{sha256}}", self.guarded(self.blob), methods=["HEAD", "PUT"]),
            Route(f"{API}/records", self.guarded(self.records), methods=["POST"]),
            Route(f"{API}/signoffs", self.guarded(self.signoffs), methods=["GET"]),
        ]

    def guarded(self, handler):
        async def endpoint(request: Request) -> Response:
            device = None
            try:
                device = await self._device(request)
                if device is None:
                    raise Refused(401, "no valid device credential (enrol again: edge-all hub enrol)")
                return await handler(request, device)
            except Refused as refused:
                return self._refuse(request, device, refused.status, refused.why)

        endpoint.__name__ = handler.__name__
        return endpoint

    async def enrol(self, request: Request) -> Response:
        try:
            code = _json_object(await _body(request, 4096)).get("code")
            if not isinstance(code, str):
                raise Refused(400, 'send {"code": "..."}')
            enrolment = await run_in_threadpool(self.devices.enrol, code, client_of(request))
        except Refused as refused:
            return self._refuse(request, None, refused.status, refused.why)
        except EnrolmentRefused as refused:
            log.warning("enrolment refused from %s: %s", client_of(request), refused)
            return _problem(403, str(refused))
        device = enrolment.device
        return JSONResponse({"device": device.id, "clinic": device.clinic_id, "token": enrolment.token}, 201)

    async def whoami(self, request: Request, device: Device) -> Response:
        return JSONResponse(
            {"device": device.id, "clinic": device.clinic_id, "name": device.name, "protocol": PROTOCOL}
        )

    async def blob(self, request: Request, device: Device) -> Response:
        sha256 = request.path_params["sha256"]
        if not SHA256.match(sha256):
            raise Refused(400, "a picture is named by the lower-case hex sha256 of its bytes")
        if request.method == "HEAD":
            held = await run_in_threadpool(self.store.has_blob, sha256)
            return Response(status_code=200 if held else 404)
        data = await _body(request, MAX_BLOB_BYTES)

        def put() -> bool:
            new = self.blobs.put(sha256, data)
            # after the bytes: a listed blob is always there
            self.store.add_blob(sha256, len(data), picture_size(data))
            return new

        try:
            new = await run_in_threadpool(put)
        except BlobMismatch as exc:
            raise Refused(422, str(exc)) from None
        return Response(status_code=201 if new else 200)

    async def records(self, request: Request, device: Device) -> Response:
        payload = _json_object(await _body(request, MAX_RECORDS_BYTES))
        error = next(iter(sorted(VALIDATOR.iter_errors(payload), key=lambda e: list(e.absolute_path))), None)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "the body"
            message = (
                error.message
                if len(error.message) <= 200
                else f"fails {error.validator} {error.validator_value}"
            )
            raise Refused(400, f"{where}: {message[:300]}")

        def ingest() -> list[dict[str, Any]]:
            outcomes = [self.store.ingest(device.id, device.clinic_id, item) for item in payload["records"]]
            tally: dict[str, int] = {}
            for outcome in outcomes:
                tally[outcome.outcome] = tally.get(outcome.outcome, 0) + 1
            with self.store.engine.begin() as connection:
                record(connection, Actor.device(device.id), "receive records", f"clinic {device.clinic_id}",
                       clinic_id=device.clinic_id, client=client_of(request), detail=tally)  # fmt: skip
            return [outcome.to_dict() for outcome in outcomes]

        results = await run_in_threadpool(ingest)
        for result in results:
            if result["outcome"] == "refused":
                log.warning("refused record %s from device %d (%s): %d %s", result["id"], device.id,
                            device.clinic_id, result["status"], result["why"])  # fmt: skip
        return JSONResponse({"results": results})

    async def signoffs(self, request: Request, device: Device) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            raise Refused(400, "after= takes a number") from None
        rows = await run_in_threadpool(self.store.signoffs_for, device.clinic_id, after)
        return JSONResponse({"signoffs": rows, "next": rows[-1]["id"] if rows else after})
