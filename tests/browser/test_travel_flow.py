"""The whole trip in real browsers: a citizen declares and gets a QR pass, a checkpoint officer scans it with
a (fake) phone camera or a USB scanner, and the destination commune sees the arrival live in its inbox."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.accounts.permissions import Actor, Role
from dancu.accounts.service import actor_from
from dancu.checkpoints import service as checkpoints
from dancu.checkpoints.schemas import CheckpointCreate
from dancu.core.db import Database, utcnow
from dancu.credentials.keyfiles import rotate_keys
from dancu.credentials.keys import ROLE_PASS, load_keyring
from dancu.credentials.qrimage import decode_qr_image
from dancu.credentials.travel_pass import mask_name
from dancu.declarations import service as declarations
from dancu.declarations.schemas import DeclarationIn
from dancu.registry.models import Person
from dancu.units.models import Unit
from tests.browser.conftest import LiveServer, login, new_page, run
from tests.browser.fake_camera import qr_png_to_y4m
from tests.factories import HANOI, HANOI_COMMUNE, PASSWORD, hcmc_commune, make_account, make_person

pytestmark = pytest.mark.browser

CHECKPOINT_NAME = "Trạm Pháp Vân - Cầu Giẽ"
OFFICER = "officer.phapvan"
CAMERA_WAIT_MS = 40_000  # camera start, first decoded frame and the verdict request
LIVE_WAIT_MS = 10_000  # the inbox polls every second; the issue allows 10 s for a notice to show


@dataclass(frozen=True)
class Scene:
    checkpoint_id: int
    officer: str
    official: str | None = None
    citizen: str | None = None
    full_name: str = ""
    national_id: str = ""
    destination: str = ""
    code: str = ""


async def _actor(session: AsyncSession, account: Account) -> Actor:
    unit = await session.get(Unit, account.unit_code)
    assert unit is not None
    return actor_from(account, unit)


async def _checkpoint_with_officer(session: AsyncSession) -> int:
    """A Hà Nội checkpoint set up as the city's official does it, with one officer assigned to it."""
    manager = await make_account(session, Role.OFFICIAL, HANOI, username="so.yte.hanoi")
    actor = await _actor(session, manager)
    await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE, username=OFFICER)
    checkpoint = await checkpoints.create_checkpoint(
        session, actor, CheckpointCreate(name=CHECKPOINT_NAME, unit_code=HANOI_COMMUNE, kind="city_gateway")
    )
    await checkpoints.assign(session, actor, checkpoint.id, username=OFFICER)
    return int(checkpoint.id)


def _seed(server: LiveServer, fill: Callable[[AsyncSession], Any]) -> Any:
    async def go() -> Any:
        db = Database(server.db_url)
        try:
            async with db.unit_of_work() as s:
                return await fill(s)
        finally:
            await db.dispose()

    return run(go)


def _travel_scene(server: LiveServer) -> Scene:
    async def fill(s: AsyncSession) -> Scene:
        person = await make_person(
            s,
            full_name="Lê Thị Hồng Nhung",
            sex="F",
            dob=date(1995, 2, 14),
            unit=HANOI_COMMUNE,
            current_address="27 Nguyễn Thái Học",
        )
        await make_account(s, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
        destination = await hcmc_commune(s)
        official = await make_account(s, Role.OFFICIAL, destination, username="ubnd.dich.den")
        return Scene(
            checkpoint_id=await _checkpoint_with_officer(s),
            officer=OFFICER,
            official=official.username,
            citizen=person.national_id,
            full_name=person.full_name,
            national_id=person.national_id,
            destination=destination,
        )

    result: Scene = _seed(server, fill)
    return result


def _new_page(browser: Any, **context: Any) -> Any:
    return new_page(browser, **context)


def _open_scan_page(page: Any, server: LiveServer, scene: Scene) -> None:
    login(page, server.url, scene.officer, PASSWORD)
    page.goto(f"{server.url}/checkpoints/{scene.checkpoint_id}/scan")
    page.wait_for_selector("#scan-app")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan-input'")


def _scan_like_usb_scanner(page: Any, code: str) -> None:
    """A USB scanner is a keyboard: it types the code, then presses Enter."""
    page.focus("#scan-input")
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def _arrival_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        '#inbox tr.notice-row[data-kind="arrival"]', "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def test_declare_scan_with_fake_camera_confirm_and_live_arrival(
    live_server: LiveServer, browser: Any, browser_factory: Callable[..., Any], tmp_path: Path
) -> None:
    scene = _travel_scene(live_server)
    assert scene.official and scene.citizen
    today = declarations.local_today()

    # The destination commune's official keeps the inbox open (live).
    inbox = _new_page(browser)
    login(inbox, live_server.url, scene.official, PASSWORD)
    inbox.goto(f"{live_server.url}/notices")
    inbox.wait_for_selector('#inbox[data-connected="1"]', timeout=LIVE_WAIT_MS)
    inbox.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates
    assert _arrival_ids(inbox) == []

    # The citizen declares the trip and gets the pass.
    citizen = _new_page(browser)
    login(citizen, live_server.url, scene.citizen, PASSWORD)
    citizen.goto(f"{live_server.url}/declarations/new")
    assert citizen.inner_text("#traveller-name") == scene.full_name
    assert citizen.input_value("#origin_unit_code") == HANOI_COMMUNE  # from the register
    assert citizen.input_value("#origin_address") == "27 Nguyễn Thái Học"
    citizen.fill("#destination_unit_code", scene.destination)
    citizen.fill("#destination_address", "45 Lê Lợi")
    citizen.fill("#travel_date", today.isoformat())
    citizen.select_option("#transport", "motorbike")
    citizen.fill("#vehicle_plate", "29B1-234.56")
    citizen.fill("#purpose", "Về quê thăm gia đình")
    citizen.check("#attested")
    citizen.click("#declaration-form button[type=submit]")
    citizen.wait_for_url(lambda url: "/declarations/new" not in url)
    citizen.wait_for_selector("#pass-qr[data-rendered]")
    code = citizen.get_attribute("#pass-qr", "data-code")
    assert code and code.startswith("VNT1:")
    assert scene.full_name in citizen.inner_text(".pass-card")
    assert scene.national_id[-4:] in citizen.inner_text(".pass-card")
    data_url = citizen.evaluate("document.getElementById('pass-qr').toDataURL('image/png')")
    assert data_url.startswith("data:image/png;base64,")
    png = base64.b64decode(data_url.split(",", 1)[1])
    assert decode_qr_image(png) == code  # the image on screen is the pass

    # The declaration itself already tells the destination (source: declaration), live.
    inbox.wait_for_selector('#inbox tr.notice-row[data-kind="arrival"]', timeout=LIVE_WAIT_MS)
    before = _arrival_ids(inbox)
    assert len(before) == 1
    assert scene.full_name in inbox.inner_text(f"#notice-{before[0]}")

    # The officer's phone: Chromium whose only camera plays a video of the pass on screen.
    video = qr_png_to_y4m(png, tmp_path / "pass.y4m")
    phone = browser_factory(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    officer = _new_page(phone, viewport={"width": 390, "height": 844})
    _open_scan_page(officer, live_server, scene)
    officer.click("#camera-start")
    verdict = officer.wait_for_selector('#verdict[data-verdict="green"]', timeout=CAMERA_WAIT_MS)
    assert officer.input_value('#decide-form input[name="method"]') == "camera"
    assert officer.input_value('#decide-form input[name="code"]') == code
    # The page shows the register's full name (not the pass's masked one) and the ID's last 4 digits.
    assert officer.inner_text("#verdict .holder-name").strip() == scene.full_name
    text = verdict.inner_text()
    assert scene.national_id[-4:] in text and scene.national_id not in text
    assert "14/02/1995" in text

    officer.click("#confirm")
    result = officer.wait_for_selector('#last-result[data-status="created"]')
    assert scene.full_name in result.inner_text()
    assert officer.locator("#verdict").count() == 0

    # The destination sees the checkpoint arrival appear without reloading.
    seen = repr(before)
    inbox.wait_for_function(
        f"""() => {{
            const known = new Set({seen});
            return [...document.querySelectorAll('#inbox tr.notice-row[data-kind="arrival"]')]
                .some(r => !known.has(r.dataset.id));
        }}""",
        timeout=LIVE_WAIT_MS,
        polling=200,
    )
    new_ids = [i for i in _arrival_ids(inbox) if i not in before]
    assert len(new_ids) == 1
    row = inbox.inner_text(f"#notice-{new_ids[0]}")
    assert scene.full_name in row and CHECKPOINT_NAME in row
    assert inbox.evaluate("window.__sameDocument === true")  # it came live, not by a reload


def _expired_scene(server: LiveServer) -> Scene:
    """A pass issued 80 hours ago by the declarations service (72-hour validity): expired now."""
    issued = utcnow() - timedelta(hours=80)
    keys_dir = server.data_dir / "keys"
    # The server's keys were made just now; a pass signed 80 hours ago needs a signing certificate that
    # was already valid then. Rotate the pass signer to one backdated a few days (the server reloads it).
    rotate_keys(keys_dir, roles=(ROLE_PASS,), now=issued - timedelta(days=3))
    keyring = load_keyring(keys_dir)

    async def fill(s: AsyncSession) -> Scene:
        person = await make_person(s, full_name="Vũ Đức Thắng", dob=date(1987, 8, 30), unit=HANOI_COMMUNE)
        account = await make_account(s, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
        trip = DeclarationIn.model_validate(
            {
                "national_id": person.national_id,
                "origin_unit_code": HANOI_COMMUNE,
                "origin_address": "12 Phố Huế",
                "destination_unit_code": await hcmc_commune(s),
                "destination_address": "3 Nguyễn Huệ",
                "travel_date": declarations.local_today(issued).isoformat(),
                "transport": "private_car",
                "vehicle_plate": "30A-123.45",
                "purpose": "Công tác",
                "attested": True,
            }
        )
        declaration = await declarations.create_declaration(
            s, await _actor(s, account), trip, keyring=keyring, now=issued
        )
        assert declaration.expires_at <= utcnow()
        return Scene(
            checkpoint_id=await _checkpoint_with_officer(s),
            officer=OFFICER,
            full_name=person.full_name,
            national_id=person.national_id,
            code=declaration.pass_code,
        )

    result: Scene = _seed(server, fill)
    return result


def test_usb_scanner_with_expired_pass_shows_red(live_server: LiveServer, browser: Any) -> None:
    scene = _expired_scene(live_server)
    page = _new_page(browser)
    _open_scan_page(page, live_server, scene)
    _scan_like_usb_scanner(page, scene.code)
    verdict = page.wait_for_selector('#verdict[data-verdict="red"]')
    text = verdict.inner_text()
    reason = page.inner_text("#verdict .verdict-reason").lower()
    assert "expired" in reason or "hết hạn" in reason, reason  # English, or Vietnamese once translated
    assert page.input_value("#refuse-reason") == "expired"  # the suggested reason for refusing
    assert page.input_value('#decide-form input[name="method"]') == "usb"
    # An expired pass is judged from its own (signed) content: the masked name and the ID's last 4 digits.
    assert page.inner_text("#verdict .holder-name").strip() == mask_name(scene.full_name)
    assert scene.national_id[-4:] in text and "1987" in text
    # The scanner's input is cleared and focused for the next person.
    page.wait_for_function("document.activeElement.id === 'scan-input' && document.activeElement.value === ''")

    page.click("#refuse")
    result = page.wait_for_selector('#last-result[data-status="created"]')
    assert "flash error" in (result.get_attribute("class") or "")


def _cccd_scene(server: LiveServer) -> tuple[Scene, Person]:
    async def fill(s: AsyncSession) -> tuple[Scene, Person]:
        person = await make_person(s, full_name="Trịnh Minh Đức", dob=date(1979, 12, 1), unit=HANOI_COMMUNE)
        return Scene(
            checkpoint_id=await _checkpoint_with_officer(s),
            officer=OFFICER,
            full_name=person.full_name,
            national_id=person.national_id,
        ), person

    result: tuple[Scene, Person] = _seed(server, fill)
    return result


def test_usb_scanner_with_chip_card_qr_and_no_declaration_shows_amber(live_server: LiveServer, browser: Any) -> None:
    scene, person = _cccd_scene(live_server)
    # The chip ID card's QR: ID|old ID|name|date of birth|sex|address|issue date.
    card = "|".join(
        [
            person.national_id,
            "",
            person.full_name,
            person.dob.strftime("%d%m%Y"),
            "Nam" if person.sex == "M" else "Nữ",
            "12 Phố Huế, Phường Ba Đình, Hà Nội",
            "10052021",
        ]
    )
    page = _new_page(browser)
    _open_scan_page(page, live_server, scene)
    _scan_like_usb_scanner(page, card)
    verdict = page.wait_for_selector('#verdict[data-verdict="amber"]')
    reason = page.inner_text("#verdict .verdict-reason").lower()
    assert "no valid declaration" in reason or "không có tờ khai" in reason, reason
    assert page.input_value("#refuse-reason") == "no_pass"
    assert page.inner_text("#verdict .holder-name").strip() == scene.full_name
    text = verdict.inner_text()
    assert scene.national_id[-4:] in text and "01/12/1979" in text and scene.national_id not in text
