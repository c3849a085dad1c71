"""The officer's scan page over HTTP: choose a checkpoint, scan (HTMX partial), confirm or refuse."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.models import AuditEvent
from dancu.checkpoints.models import Passage
from tests.checkpoints.conftest import Scene, make_checkpoint
from tests.factories import login

HX = {"HX-Request": "true"}


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


async def test_scan_page_flow(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    csrf = await login(client, scene.officer.username)
    client.cookies.set("lang", "en")  # the reason in words is asserted in English below
    headers = {**HX, "X-CSRF-Token": csrf}
    # One checkpoint: /scan goes straight to it, and the choice is remembered.
    r = await client.get("/scan")
    assert r.status_code == 303 and r.headers["location"] == f"/checkpoints/{scene.checkpoint.id}/scan"
    page = await client.get(r.headers["location"])
    assert page.status_code == 200
    for element in (
        'id="scan-input"',
        'id="camera-start"',
        'id="manual-id"',
        "/static/vendor/jsQR.js",
        "/static/app/scan.js",
    ):
        assert element in page.text
    assert page.cookies.get("dancu_checkpoint") == str(scene.checkpoint.id)

    # A USB scanner types the code and Enter (with a trailing line ending).
    verdict = await client.post(
        f"/checkpoints/{scene.checkpoint.id}/scan",
        headers=headers,
        data={"code": scene.code + "\r\n", "method": "usb", "direction": "in"},
    )
    assert verdict.status_code == 200
    html = verdict.text
    assert 'id="verdict"' in html and 'data-verdict="green"' in html
    assert "Trần Thị Bình" in html and "02/04/1991" in html and scene.person.national_id[-4:] in html
    assert 'id="confirm"' in html and 'id="refuse"' in html
    assert scene.person.permanent_address not in html  # least data: never the full record
    assert await session.scalar(select(func.count()).select_from(Passage)) == 0

    # Confirm in one tap; the same form posted again (a retry) records nothing more.
    form = {k: hidden(html, k) for k in ("code", "method", "direction", "scanned_at", "idempotency_key", "label")}
    done = await client.post(
        f"/checkpoints/{scene.checkpoint.id}/decide",
        headers=headers,
        data={**form, "decision": "confirm", "reason": "no_pass"},
    )
    assert done.status_code == 200, done.text
    assert 'id="last-result"' in done.text and "Trần Thị Bình" in done.text and 'data-status="created"' in done.text
    again = await client.post(
        f"/checkpoints/{scene.checkpoint.id}/decide", headers=headers, data={**form, "decision": "confirm"}
    )
    assert 'data-status="duplicate"' in again.text
    row = await session.scalar(select(Passage))
    assert row is not None and (row.method, row.decision, row.reason) == ("usb", "confirm", None)
    assert await session.scalar(select(func.count()).select_from(Passage)) == 1

    # Scanned again within the minute: amber, "already scanned".
    second = await client.post(
        f"/checkpoints/{scene.checkpoint.id}/scan", headers=headers, data={"code": scene.code, "method": "camera"}
    )
    assert 'data-verdict="amber"' in second.text and "Already scanned" in second.text
    scans = await session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "pass:scan"))
    assert scans == 2


async def test_refuse_manual_entry_and_empty_scans(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    csrf = await login(client, scene.officer.username)
    client.cookies.set("lang", "en")
    headers = {**HX, "X-CSRF-Token": csrf}
    url = f"/checkpoints/{scene.checkpoint.id}"
    empty = await client.post(f"{url}/scan", headers=headers, data={"code": "  ", "method": "usb"})
    assert empty.status_code == 204  # a scanner's second Enter changes nothing on screen
    manual = await client.post(
        f"{url}/scan", headers=headers, data={"code": scene.person.national_id, "method": "manual", "direction": "out"}
    )
    assert 'data-verdict="green"' in manual.text and "Trần Thị Bình" in manual.text
    form = {k: hidden(manual.text, k) for k in ("code", "method", "direction", "scanned_at", "idempotency_key")}
    assert (form["method"], form["direction"]) == ("manual", "out")
    refused = await client.post(
        f"{url}/decide",
        headers=headers,
        data={**form, "decision": "refuse", "reason": "symptoms", "reason_text": "ho, sốt"},
    )
    assert refused.status_code == 200 and 'id="last-result"' in refused.text
    row = await session.scalar(select(Passage))
    assert row is not None
    assert (row.decision, row.reason, row.reason_text, row.method, row.direction, row.person_id) == (
        "refuse",
        "symptoms",
        "ho, sốt",
        "manual",
        "out",
        scene.person.id,
    )
    red = await client.post(f"{url}/scan", headers=headers, data={"code": "HC1:NCFOXN%TS3DH", "method": "camera"})
    assert 'data-verdict="red"' in red.text and "HC1" in red.text


async def test_scan_page_refuses_other_checkpoints(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    elsewhere = await make_checkpoint(session)
    csrf = await login(client, scene.officer.username)
    assert (await client.get(f"/checkpoints/{elsewhere.id}/scan")).status_code == 403
    r = await client.post(
        f"/checkpoints/{elsewhere.id}/scan", headers={**HX, "X-CSRF-Token": csrf}, data={"code": scene.code}
    )
    assert r.status_code == 403
    # An official (no scanning permission) is refused too.
    csrf = await login(client, scene.official.username)
    assert (await client.get(f"/checkpoints/{scene.checkpoint.id}/scan")).status_code == 403


async def test_choose_page_lists_my_checkpoints(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    second = await make_checkpoint(session, name="Trạm Thứ Hai", officers=(scene.officer,))
    await login(client, scene.officer.username)
    page = await client.get("/scan")
    assert page.status_code == 200
    assert scene.checkpoint.name in page.text and "Trạm Thứ Hai" in page.text
    await client.get(f"/checkpoints/{second.id}/scan")
    assert (await client.get("/scan")).headers["location"] == f"/checkpoints/{second.id}/scan"
    assert (await client.get("/scan", params={"choose": "1"})).status_code == 200
