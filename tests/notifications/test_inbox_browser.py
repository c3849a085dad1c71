"""The live inbox in a real browser: a new arrival appears without a reload and can be marked handled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dancu.accounts.permissions import Role
from dancu.core.db import Database
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, live_server, new_page  # noqa: F401 (a fixture)
from tests.factories import HANOI_COMMUNE, PASSWORD, hcmc_commune, make_account, make_person
from tests.notifications.conftest import move

pytestmark = pytest.mark.browser
T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run async set-up in a thread of its own (Playwright's sync API owns this thread's event loop)."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(fn()))  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def _seed(db_url: str) -> tuple[str, int, str, int]:
    async def go() -> tuple[str, int, str, int]:
        db = Database(db_url)
        try:
            async with db.unit_of_work() as s:
                person = await make_person(s, full_name="Bà Triệu", sex="F")
                official = await make_account(s, Role.OFFICIAL, HANOI_COMMUNE, username="ubnd.badinh")
                origin = await hcmc_commune(s)
                _, arrival = await move(s, person.id, origin, HANOI_COMMUNE)
                return official.username, person.id, origin, arrival.id
        finally:
            await db.dispose()

    return run(go)


def _arrive(db_url: str, person_id: int, origin: str) -> int:
    async def go() -> int:
        db = Database(db_url)
        try:
            async with db.unit_of_work() as s:
                return (await move(s, person_id, origin, HANOI_COMMUNE))[1].id
        finally:
            await db.dispose()

    return run(go)


@pytest.fixture
def page() -> Iterator[Any]:
    """A Chromium page from a Playwright started for this test only: the sync API runs an event loop in
    this thread while it lives, which would stop later async tests in the same process."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (make test installs it: scripts/ensure-chromium.sh)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield new_page(browser)
        finally:
            browser.close()


def test_a_new_arrival_appears_live_and_is_marked_handled(live_server: LiveServer, page: Any) -> None:  # noqa: F811
    username, person_id, origin, first = _seed(live_server.db_url)
    page.goto(f"{live_server.url}/login?next=/notices")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")  # (the header's language button is also a submit button)
    page.wait_for_url("**/notices")
    page.wait_for_selector('#inbox[data-connected="1"]', timeout=10_000)
    assert page.locator("#inbox tr.notice-row").count() == 1
    new_id = _arrive(live_server.db_url, person_id, origin)
    row = f'#inbox tr.notice-row[data-kind="arrival"][data-id="{new_id}"]'
    page.wait_for_selector(row, timeout=10_000)
    assert page.locator("#inbox tr.notice-row").first.get_attribute("data-id") == str(new_id)
    assert page.inner_text("#inbox-new-count") == "1" and page.locator(f"#notice-{first}").count() == 1
    page.click(f"{row} button[type=submit]")
    page.wait_for_selector(f"#notice-{new_id}.handled", timeout=10_000)
    assert page.locator("#inbox tr.notice-row.handled").count() == 1
