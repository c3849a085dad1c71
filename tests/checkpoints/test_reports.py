"""Checkpoint reports read only the pre-aggregated counts, scoped to the reader's jurisdiction."""

from __future__ import annotations

import io
from datetime import date, timedelta

import httpx
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.checkpoints.models import PassageCount
from dancu.checkpoints.reports import local_today
from tests.checkpoints.conftest import Scene, bearer, make_account, make_checkpoint, passage, post_passage
from tests.factories import login


async def add_count(
    session: AsyncSession,
    checkpoint_id: int,
    day: date,
    hour: int,
    n: int,
    *,
    decision: str = "confirm",
    reason: str = "",
    province: str = "01",
    green: bool = False,
) -> None:
    session.add(
        PassageCount(
            day=day,
            checkpoint_id=checkpoint_id,
            hour=hour,
            origin_province=province,
            decision=decision,
            reason=reason,
            green_lane=green,
            count=n,
        )
    )
    await session.flush()


async def test_report_sums_the_counts(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    # Counts written directly, with no passages at all: the report must come from passage_counts alone.
    cp, day = scene.checkpoint.id, date(2021, 8, 20)
    await add_count(session, cp, day, 7, 1200)
    await add_count(session, cp, day, 7, 30, decision="refuse", reason="expired", province="79")
    await add_count(session, cp, day, 9, 15, decision="refuse", reason="symptoms")
    await add_count(session, cp, day + timedelta(days=1), 23, 400, green=True, province="79")
    await add_count(session, cp, day + timedelta(days=9), 1, 999)  # outside the range
    h = await bearer(session, scene.official)
    r = await client.get("/api/v1/reports/checkpoints", headers=h, params={"from": "2021-08-20", "to": "2021-08-22"})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["totals"] == {
        "key": "total",
        "label": "Total",
        "scanned": 1645,
        "confirmed": 1600,
        "refused": 45,
        "green_lane": 400,
    }
    assert rep["refused_by_reason"] == {"expired": 30, "symptoms": 15}
    assert [(d["key"], d["scanned"]) for d in rep["by_day"]] == [
        ("2021-08-20", 1245),
        ("2021-08-21", 400),
        ("2021-08-22", 0),
    ]
    hours = {h["label"]: h["scanned"] for h in rep["by_hour"]}
    assert len(hours) == 24 and hours["07:00"] == 1230 and hours["09:00"] == 15 and hours["23:00"] == 400
    provinces = {p["key"]: (p["scanned"], p["label"]) for p in rep["by_origin_province"]}
    assert provinces["01"][0] == 1215 and provinces["79"][0] == 430 and "Hồ Chí Minh" in provinces["79"][1]
    assert rep["by_checkpoint"][0]["label"] == scene.checkpoint.name


async def test_report_scope_filters_and_validation(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    day = date(2021, 8, 20)
    other = await make_checkpoint(session, name="Trạm Khác")
    hcmc_cp = await make_checkpoint(session, unit="79", name="Trạm Sài Gòn")
    await add_count(session, scene.checkpoint.id, day, 8, 10)
    await add_count(session, other.id, day, 8, 5)
    await add_count(session, hcmc_cp.id, day, 8, 1000)
    h = await bearer(session, scene.official)
    params = {"from": "2021-08-20", "to": "2021-08-20"}
    r = await client.get("/api/v1/reports/checkpoints", headers=h, params=params)
    assert r.json()["totals"]["scanned"] == 15  # Hà Nội's official does not see Sài Gòn
    one = await client.get("/api/v1/reports/checkpoints", headers=h, params={**params, "checkpoint_id": other.id})
    assert one.json()["totals"]["scanned"] == 5
    assert (
        await client.get("/api/v1/reports/checkpoints", headers=h, params={**params, "checkpoint_id": hcmc_cp.id})
    ).status_code == 403
    assert (
        await client.get("/api/v1/reports/checkpoints", headers=h, params={"from": "2021-08-21", "to": "2021-08-20"})
    ).status_code == 422
    assert (
        await client.get("/api/v1/reports/checkpoints", headers=h, params={"from": "2020-01-01", "to": "2021-08-20"})
    ).status_code == 422
    assert (await client.get("/api/v1/reports/checkpoints", headers=scene.headers)).status_code == 403  # officer
    default = (await client.get("/api/v1/reports/checkpoints", headers=h)).json()
    assert default["date_to"] == local_today().isoformat() and len(default["by_day"]) == 7


async def test_recorded_passages_feed_the_report_and_xlsx(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    assert (await post_passage(client, scene, passage(scene.code))).status_code == 201
    assert (
        await post_passage(client, scene, passage("bad code", decision="refuse", reason="no_pass"))
    ).status_code == 201
    official = await make_account(session, Role.OFFICIAL, "01")
    h = await bearer(session, official)
    rep = (await client.get("/api/v1/reports/checkpoints", headers=h)).json()
    assert (rep["totals"]["scanned"], rep["totals"]["confirmed"], rep["totals"]["refused"]) == (2, 1, 1)
    assert rep["refused_by_reason"] == {"no_pass": 1}
    xlsx = await client.get("/api/v1/reports/checkpoints", headers=h, params={"format": "xlsx"})
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    wb = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert wb.sheetnames == ["Summary", "By day", "By hour", "By checkpoint", "By origin province"]
    rows = list(wb["Summary"].iter_rows(values_only=True))
    assert rows[2][:4] == (2, 1, 1, 0)

    await login(client, official.username)
    page = await client.get("/reports/checkpoints")
    assert page.status_code == 200
    assert 'id="report-data"' in page.text and "/static/vendor/chart.umd.js" in page.text
    assert '<span id="total-scanned">2</span>' in page.text
    download = await client.get("/reports/checkpoints.xlsx")
    assert download.status_code == 200 and download.content[:2] == b"PK"
    bad = await client.get("/reports/checkpoints", params={"from": "nonsense"})
    assert bad.status_code == 422
