"""The verify endpoint (JSON text or photo upload) and the trust list with its ETag."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cred_helpers import NOW
from cryptography import x509
from fastapi import FastAPI

from dancu.credentials import issue_hc1, render_png
from dancu.credentials.api import keyring_dep, router
from dancu.credentials.keys import Keyring
from dancu.credentials.trust import verify_trust_list


def make_client(keyring: Keyring) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[keyring_dep] = lambda: keyring
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dancu.test")


@pytest.fixture
async def client(keyring: Keyring) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(keyring) as test_client:
        yield test_client


@pytest.fixture
def hc1(keyring: Keyring, vaccination: dict[str, Any]) -> str:
    return issue_hc1(vaccination, keyring=keyring, iat=NOW, exp=NOW + timedelta(days=30), cert_type="v")


async def test_verify_text(client: httpx.AsyncClient, hc1: str) -> None:
    response = await client.post("/api/v1/credentials/verify", json={"text": hc1, "clock": NOW.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["ok"], body["failure"]) == ("hc1", True, None)
    assert body["payload"]["nam"]["fnt"] == "NGUYEN"


async def test_verify_reports_failures_as_data(client: httpx.AsyncClient, hc1: str) -> None:
    late = await client.post("/api/v1/credentials/verify", json={"text": hc1, "clock": "2099-01-01T00:00:00Z"})
    assert late.status_code == 200 and late.json()["failure"] == "expired"
    junk = await client.post("/api/v1/credentials/verify", json={"text": "HC1:abc"})
    assert junk.status_code == 200 and junk.json()["failure"] == "base45"


async def test_verify_image_upload(client: httpx.AsyncClient, hc1: str) -> None:
    files = {"image": ("cert.png", render_png(hc1), "image/png")}
    response = await client.post("/api/v1/credentials/verify", files=files, data={"clock": NOW.isoformat()})
    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_non_image_upload_is_a_typed_failure(client: httpx.AsyncClient) -> None:
    files = {"image": ("cert.png", b"%PDF-1.4 not an image", "image/png")}
    response = await client.post("/api/v1/credentials/verify", files=files)
    assert response.status_code == 200
    assert (response.json()["ok"], response.json()["failure"]) == (False, "format")


async def test_upload_over_10_mb_is_413(client: httpx.AsyncClient) -> None:
    files = {"image": ("big.png", b"\x89PNG" + b"\0" * (10 * 1024 * 1024 + 100_000), "image/png")}
    response = await client.post("/api/v1/credentials/verify", files=files)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_ten_megabyte_text_is_a_typed_failure(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/credentials/verify", json={"text": "HC1:" + "A" * (10 * 1024 * 1024 - 100)})
    assert response.status_code == 200
    assert response.json()["failure"] == "format"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"json": {"txt": "HC1:"}}, "text"),
        ({"content": b"not json", "headers": {"content-type": "application/json"}}, None),
        ({"json": {"text": "HC1:", "clock": "soon"}}, "clock"),
        ({"files": {"photo": ("x.png", b"x", "image/png")}}, "image"),
    ],
)
async def test_bad_requests_are_422(client: httpx.AsyncClient, kwargs: dict[str, Any], field: str | None) -> None:
    response = await client.post("/api/v1/credentials/verify", **kwargs)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert response.json().get("field") == field


async def test_trust_list_with_etag(client: httpx.AsyncClient, keyring: Keyring, session_keys_dir: Any) -> None:
    response = await client.get("/api/v1/trust-list")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    etag = response.headers["etag"]
    assert etag.startswith('"') and "max-age" in response.headers["cache-control"]
    csca = x509.load_pem_x509_certificate((session_keys_dir / "csca.crt.pem").read_bytes())
    assert {d.kid for d in verify_trust_list(response.content, csca)} == {d.kid for d in keyring.trust.dscs}
    assert json.loads(response.content)["format"] == "dancu-trust-list/1"

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = await client.get("/api/v1/trust-list", headers={"If-None-Match": header})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
    assert (await client.get("/api/v1/trust-list", headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_trust_list_without_keys_is_404(keyring: Keyring) -> None:
    async with make_client(Keyring()) as test_client:
        response = await test_client.get("/api/v1/trust-list")
    assert response.status_code == 404 and "keys init" in response.json()["message"]


async def test_default_dependency_reads_settings(data_dir: Any, client: httpx.AsyncClient) -> None:
    from dancu.credentials.keyfiles import init_keys

    init_keys(data_dir / "keys")
    assert keyring_dep().trust_list == (data_dir / "keys" / "trust-list.json").read_bytes()
