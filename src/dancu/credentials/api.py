"""HTTP API: verify a scanned code or a QR photo, and serve the signed trust list."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message

from dancu.config import get_settings
from dancu.core.errors import DomainError, NotFound, PayloadTooLarge, ValidationFailed
from dancu.core.fastpath import validation_body
from dancu.credentials.cwt import parse_clock
from dancu.credentials.keys import Keyring, get_keyring
from dancu.credentials.qrimage import MAX_IMAGE_BYTES
from dancu.credentials.results import ScanResult
from dancu.credentials.scan import scan, scan_image

router = APIRouter(prefix="/api/v1", tags=["credentials"])

# An image upload of up to 10 MB plus the multipart framing; a JSON body is held to the same bound.
MAX_BODY_BYTES = MAX_IMAGE_BYTES + 64 * 1024


def keyring_dep() -> Keyring:
    """The process keyring (override in tests or to verify against another trust store)."""
    return get_keyring(get_settings())


class VerifyRequest(BaseModel):
    text: str
    clock: str | None = None


class _TooLarge(Exception):
    pass


def _error(error: DomainError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=error.status_code)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes) -> Any:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _clock(value: object) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationFailed("clock must be an ISO 8601 time", field="clock")
    try:
        return parse_clock(value)
    except ValueError:
        raise ValidationFailed("clock must be an ISO 8601 time", field="clock") from None


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": VerifyRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "clock": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post("/credentials/verify", openapi_extra=_VERIFY_BODY)
async def verify_credential(request: Request, keyring: Keyring = Depends(keyring_dep)) -> JSONResponse:
    """Verify scanned text (JSON `{"text", "clock"}`) or a QR photo (multipart field `image`, <= 10 MB).
    A code that fails a check is a normal answer (200, `ok: false`, `failure` says which check)."""
    try:
        body = await _read_body(request, MAX_BODY_BYTES)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            result = await _verify_upload(Request(request.scope, _replay(body)), keyring)
        else:
            try:
                payload = VerifyRequest.model_validate_json(body)
            except ValidationError as exc:
                # As every other route reports it: the field, why, and each error (never the input back).
                found = validation_body(exc.errors(include_url=False))
                raise ValidationFailed(
                    found["message"] + ' (send JSON {"text": ..., "clock": optional ISO 8601})',
                    field=found["field"], details=found["details"],
                ) from None
            result = scan(payload.text, _clock(payload.clock), keyring=keyring)
    except _TooLarge:
        return _error(PayloadTooLarge(f"the upload is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"))
    except ValidationFailed as error:
        return _error(error)
    return JSONResponse(result.to_json_dict())


async def _verify_upload(request: Request, keyring: Keyring) -> ScanResult:
    try:
        form = await request.form(max_files=1, max_fields=4)
    except (MultiPartException, HTTPException) as exc:
        raise ValidationFailed(f"unreadable multipart body ({exc})") from None
    try:
        image = form.get("image")
        if not isinstance(image, UploadFile):
            raise ValidationFailed("send the photo in the multipart field 'image'", field="image")
        data = await image.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise _TooLarge
        at = _clock(form.get("clock"))
    finally:
        await form.close()
    return await run_in_threadpool(scan_image, data, at, keyring=keyring)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


@router.get("/trust-list")
def trust_list(request: Request, keyring: Keyring = Depends(keyring_dep)) -> Response:
    """The CSCA-signed list of trusted document signers, for offline verifiers. Supports If-None-Match."""
    document = keyring.trust_list
    if document is None:
        return _error(NotFound("no trust list yet: run `dancu keys init`"))
    etag = '"' + hashlib.sha256(document).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if _etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    return Response(document, media_type="application/json", headers=headers)
