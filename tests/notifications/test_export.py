"""XLSX export of the current filter: the file's rows, the cap and the audit entry."""

from __future__ import annotations

import io
from datetime import date, datetime

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.notifications.export import COLUMNS, ExportTooLarge, export_xlsx
from dancu.notifications.schemas import NoticeFilter
from tests.factories import (
    HANOI,
    HANOI_COMMUNE,
    HANOI_COMMUNE_2,
    actor_of,
    hcmc_commune,
    login,
    make_account,
    make_person,
)
from tests.notifications.conftest import move


async def test_export_holds_the_filtered_rows_newest_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    an = await make_person(session, full_name="Lý Thường Kiệt")
    binh = await make_person(session, full_name="Trần Hưng Đạo")
    first = await move(session, an.id, hcmc, HANOI_COMMUNE, travel_date=date(2021, 8, 11))
    second = await move(session, binh.id, HANOI_COMMUNE_2, HANOI_COMMUNE, travel_date=date(2021, 8, 13))
    await move(session, binh.id, HANOI_COMMUNE, hcmc)  # a departure: filtered out below
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)
    r = await client.get("/api/v1/notices/export.xlsx", params={"kind": "arrival"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert r.headers["content-disposition"].startswith('attachment; filename="notices-')
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [(row[0], row[1], row[3], row[4]) for row in rows[1:]] == [
        (second[1].id, "arrival", "Trần Hưng Đạo", binh.national_id),
        (first[1].id, "arrival", "Lý Thường Kiệt", an.national_id),
    ]
    assert isinstance(rows[1][2], datetime) and rows[1][2].date() == date(2021, 8, 13)
    assert rows[2][5] == hcmc and rows[2][6] and rows[2][8]  # origin code, origin and destination names
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "notices:export"))
    assert event is not None and event.details == {"filters": {"kind": "arrival"}, "rows": 2}
    page_link = await client.get("/notices/export.xlsx", params={"kind": "departure"})
    assert page_link.status_code == 200
    assert len(list(load_workbook(io.BytesIO(page_link.content)).active.iter_rows())) == 1 + 2


async def test_export_over_the_cap_is_refused_with_a_clear_message(session: AsyncSession) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    for _ in range(3):
        await move(session, person.id, hcmc, HANOI_COMMUNE)
    actor = await actor_of(session, await make_account(session, Role.OFFICIAL, HANOI_COMMUNE))
    with pytest.raises(ExportTooLarge) as err:
        await export_xlsx(session, actor, NoticeFilter(), max_rows=2)
    assert err.value.message == "Too many notices to export (3); the limit is 2. Narrow the filters."
    out, count = await export_xlsx(session, actor, NoticeFilter(), max_rows=3)
    with out:
        assert count == 3 and len(list(load_workbook(out).active.iter_rows())) == 4
