"""Issue 2 in a real browser: an official searches a person and opens the record; the citizen sees the read."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dancu.accounts.permissions import Role
from dancu.core.db import Database
from tests.browser.conftest import LiveServer, login, new_page, run
from tests.factories import HANOI, HANOI_COMMUNE, PASSWORD, make_account, make_person

pytestmark = pytest.mark.browser


def _seed(db_url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        db = Database(db_url)
        try:
            async with db.unit_of_work() as s:
                person = await make_person(
                    s, full_name="Đặng Thị Thu Hà", sex="F", dob=date(1988, 11, 3), unit=HANOI_COMMUNE
                )
                await make_account(s, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
                official = await make_account(s, Role.OFFICIAL, HANOI, username="official.browser")
                return {"citizen": person.national_id, "official": official.username}
        finally:
            await db.dispose()

    return run(go)


def test_official_reads_record_and_citizen_sees_it(live_server: LiveServer, browser: Any) -> None:
    users = _seed(live_server.db_url)
    official = new_page(browser)
    login(official, live_server.url, users["official"], PASSWORD)
    official.goto(f"{live_server.url}/registry")
    official.fill("#q", "dang thi thu ha")
    official.fill("#year", "1988")
    official.click("main form button[type=submit]")
    official.wait_for_selector("#results table tbody tr a.button")
    assert "Đặng Thị Thu Hà" in official.inner_text("#results")
    official.click("#results table tbody tr a.button")
    official.check("input[value=contact_tracing]")
    official.click("main form button[type=submit]")
    official.wait_for_selector("dl.fields")
    assert users["citizen"] in official.inner_text("dl.fields")

    citizen = new_page(browser)
    login(citizen, live_server.url, users["citizen"], PASSWORD)
    citizen.goto(f"{live_server.url}/me")
    rows = citizen.locator("tr.read-event")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "official" in text.lower() or "cán bộ" in text.lower()
