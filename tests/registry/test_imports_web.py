"""Register import from the web: upload, background job with progress, error file download, scoping."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import httpx

from dancu.accounts.permissions import Role
from dancu.app import create_app
from dancu.config import Settings
from dancu.core.db import Database
from dancu.registry.idnumber import encode_id
from dancu.registry.validation import COLUMNS
from tests.factories import HANOI, HANOI_COMMUNE, login, make_account


def _csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def _row(**kw: str) -> dict[str, str]:
    from datetime import date

    base = {c: "" for c in COLUMNS}
    base.update(
        id=encode_id("001", date(1991, 4, 5), "M", 424242),
        full_name="Vũ Văn Nam",
        dob="1991-04-05",
        sex="Nam",
        permanent_unit=HANOI_COMMUNE,
        permanent_address="3 Hàng Bài",
        current_unit=HANOI_COMMUNE,
        current_address="3 Hàng Bài",
    )
    base.update(kw)
    return base


async def test_upload_runs_in_background_and_reports_rejections(fresh_db: str, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, database_url=fresh_db, log_json=False, webhook_worker=False)
    db = Database(fresh_db)
    app = create_app(settings, db=db)
    async with db.unit_of_work() as s:
        official = await make_account(s, Role.OFFICIAL, HANOI)
    outside = await _outside_commune(db)
    body = _csv(
        [
            _row(),
            _row(id="12345", full_name="Bad Id"),
            _row(
                id=encode_id("001", __import__("datetime").date(1980, 1, 1), "F", 7),
                full_name="Ngoài Tỉnh",
                dob="1980-01-01",
                sex="Nữ",
                permanent_unit=outside,
                current_unit=outside,
            ),
        ]
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
            csrf = await login(client, official.username)
            r = await client.post(
                "/registry/imports", data={"csrf_token": csrf}, files={"file": ("people.csv", body, "text/csv")}
            )
            assert r.status_code == 303, r.text
            job_url = r.headers["location"]
            job_id = job_url.rsplit("/", 1)[1]
            for _ in range(100):
                job = (await client.get(f"/api/v1/registry/imports/{job_id}")).json()
                if job["status"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert job["status"] == "done", job
            assert (job["rows_read"], job["rows_imported"], job["rows_rejected"]) == (3, 1, 2)
            errors = await client.get(f"/registry/imports/{job_id}/errors.csv")
            assert errors.status_code == 200
            text = errors.content.decode("utf-8-sig")
            assert "12 digits" in text and "Ngoài Tỉnh" in text
            page = await client.get(job_url)
            assert 'id="error-file"' in page.text
            bad = await client.post(
                "/registry/imports", data={"csrf_token": csrf}, files={"file": ("people.txt", b"x", "text/plain")}
            )
            assert bad.status_code == 422
    finally:
        await db.dispose()


async def _outside_commune(db: Database) -> str:
    from tests.factories import hcmc_commune

    async with db.unit_of_work() as s:
        return await hcmc_commune(s)
