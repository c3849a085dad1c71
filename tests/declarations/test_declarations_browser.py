"""In a real browser: a citizen declares in under a minute, gets a QR that decodes to the pass, saves it as
an image, and revokes it."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

from dancu.accounts.permissions import Role
from dancu.core.db import Database
from dancu.credentials.qrimage import decode_qr_image
from tests.browser.conftest import LiveServer, login, new_page, run
from tests.factories import HANOI_COMMUNE, HANOI_COMMUNE_2, PASSWORD, make_account, make_person

pytestmark = pytest.mark.browser


def _seed(db_url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        db = Database(db_url)
        try:
            async with db.unit_of_work() as s:
                person = await make_person(s, full_name="Ngô Thị Thanh", sex="F", dob=date(1992, 4, 5),
                                           household_id="HK-B-1", current_address="8 Phan Đình Phùng")
                await make_person(s, full_name="Ngô Văn Bảo", dob=date(2016, 9, 9), household_id="HK-B-1")
                await make_account(s, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
                return {"citizen": person.national_id}
        finally:
            await db.dispose()

    return run(go)


def test_declare_show_save_and_revoke(live_server: LiveServer, browser: Any) -> None:
    users = _seed(live_server.db_url)
    page = new_page(browser, accept_downloads=True)
    login(page, live_server.url, users["citizen"], PASSWORD)
    page.goto(f"{live_server.url}/declarations/new")
    assert page.input_value("#origin_unit_code") == HANOI_COMMUNE
    assert page.input_value("#origin_address") == "8 Phan Đình Phùng"
    assert page.locator("#person option").count() == 2  # the household member can be chosen
    page.select_option("#transport", "plane")
    assert page.locator("#plate-field").is_hidden() and page.locator("#transport_detail").is_visible()
    page.select_option("#transport", "motorbike")
    assert page.locator("#plate-field").is_visible()
    page.fill("#destination_unit_code", HANOI_COMMUNE_2)
    page.fill("#destination_address", "3 Hoàng Diệu")
    page.fill("#purpose", "Thăm bà")
    page.check("#attested")
    page.click("#declaration-form button[type=submit]")
    page.wait_for_selector("#pass-qr[data-rendered]")
    code = page.get_attribute("#pass-qr", "data-code")
    assert code and code.startswith("VNT1:")
    png = page.evaluate("document.getElementById('pass-qr').toDataURL('image/png')")
    assert decode_qr_image(base64.b64decode(png.split(",", 1)[1])) == code
    with page.expect_download() as download:
        page.click("[data-save-qr]")
    assert download.value.suggested_filename.endswith(".png")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#revoke-form button[type=submit]")
    page.wait_for_selector("#pass-state")
    assert page.locator("#pass-qr").count() == 0
    assert page.get_attribute(".pass-status", "data-status") == "revoked"
