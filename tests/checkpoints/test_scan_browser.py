"""The scan page in a real browser: a USB scanner types a pass and Enter, the officer confirms in one tap."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from dancu.accounts.permissions import Role
from dancu.checkpoints.models import Passage
from dancu.core.db import Database
from dancu.credentials.keys import load_keyring
from tests.browser.conftest import (  # noqa: F401 (fixtures)
    LiveServer,
    browser,
    browser_factory,
    live_server,
    login,
    new_page,
    playwright_instance,
    run,
)
from tests.checkpoints.conftest import make_checkpoint, make_declaration
from tests.factories import HANOI_COMMUNE, PASSWORD, hcmc_commune, make_account, make_person

pytestmark = pytest.mark.browser


def _seed(server: LiveServer) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        db = Database(server.db_url)
        try:
            async with db.unit_of_work() as s:
                officer = await make_account(s, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE, username="officer.browser")
                checkpoint = await make_checkpoint(s, name="Trạm Pháp Vân", officers=(officer,))
                person = await make_person(s, full_name="Hoàng Thị Lan", dob=date(1993, 6, 9), sex="F")
                declaration = await make_declaration(
                    s, person, load_keyring(server.data_dir / "keys"), destination=await hcmc_commune(s)
                )
                return {"officer": officer.username, "checkpoint": checkpoint.id, "code": declaration.pass_code}
        finally:
            await db.dispose()

    return run(go)


def _passages(server: LiveServer) -> int:
    async def go() -> int:
        db = Database(server.db_url)
        try:
            async with db.unit_of_work() as s:
                return int(await s.scalar(select(func.count()).select_from(Passage)) or 0)
        finally:
            await db.dispose()

    return run(go)


def test_usb_scanner_scan_and_confirm(live_server: LiveServer, browser: Any) -> None:  # noqa: F811
    seed = _seed(live_server)
    page = new_page(browser, viewport={"width": 390, "height": 844})
    login(page, live_server.url, seed["officer"], PASSWORD)
    page.goto(f"{live_server.url}/scan")
    page.wait_for_url(f"**/checkpoints/{seed['checkpoint']}/scan")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan-input'")

    # The scanner "types" the code and presses Enter, then sends a stray second Enter.
    page.keyboard.insert_text(seed["code"])
    page.keyboard.press("Enter")
    verdict = page.wait_for_selector('#verdict[data-verdict="green"]')
    assert "Hoàng Thị Lan" in verdict.inner_text()
    assert "09/06/1993" in verdict.inner_text()
    page.wait_for_function("document.activeElement.id === 'scan-input' && document.activeElement.value === ''")
    page.keyboard.press("Enter")  # empty: nothing is sent, the verdict stays
    assert page.locator('#verdict[data-verdict="green"]').count() == 1

    page.click("#confirm")
    result = page.wait_for_selector('#last-result[data-status="created"]')
    assert "Hoàng Thị Lan" in result.inner_text()
    assert page.locator("#verdict").count() == 0
    page.wait_for_function("document.activeElement.id === 'scan-input'")
    assert _passages(live_server) == 1

    # The same pass again within the minute: amber, and confirming it records nothing new.
    page.keyboard.insert_text(seed["code"])
    page.keyboard.press("Enter")
    page.wait_for_selector('#verdict[data-verdict="amber"]')
    page.click("#confirm")
    page.wait_for_selector('#last-result[data-status="duplicate"]')
    assert _passages(live_server) == 1
