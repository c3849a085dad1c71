"""Real-browser tests: a live uvicorn server on a fresh database, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run async set-up code from a synchronous browser test (in a thread: Playwright's sync API keeps an
    event loop running in the test's own thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    db_url: str
    data_dir: Path
    env: dict[str, str]


@pytest.fixture
def live_server(fresh_db: str, tmp_path: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "DANCU_DATABASE_URL": fresh_db,
        "DANCU_DATA_DIR": str(data_dir),
        "DANCU_ENV": "test",
        "DANCU_LOG_LEVEL": "WARNING",
        "DANCU_SECRET_KEY": "browser-test-secret-" + "x" * 20,
    }
    keys = subprocess.run(
        [sys.executable, "-m", "dancu", "keys", "init"], env=env, capture_output=True, text=True, check=False
    )
    assert keys.returncode == 0, keys.stderr
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "dancu.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "server.log").read_text())
            time.sleep(0.2)
        yield LiveServer(url, fresh_db, data_dir, env)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        # Shown by pytest only when the test failed: what the server said.
        print("--- live server log (tail) ---\n" + (tmp_path / "server.log").read_text()[-4000:])


@pytest.fixture
def playwright_instance() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (make test installs it: scripts/ensure-chromium.sh)")
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser_factory(playwright_instance: Any) -> Iterator[Callable[..., Any]]:
    """Launch Chromium with extra flags (e.g. a fake camera); every browser is closed after the test."""
    launched: list[Any] = []

    def launch(*extra_args: str) -> Any:
        browser = playwright_instance.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        launched.append(browser)
        return browser

    yield launch
    for b in launched:
        b.close()


@pytest.fixture
def browser(browser_factory: Callable[..., Any]) -> Any:
    return browser_factory()


# CI machines run two test workers, each with its own server and browsers, on two cores: waits are
# generous so that load slows a test down instead of failing it.
DEFAULT_TIMEOUT_MS = 60_000


def new_page(browser: Any, **context: Any) -> Any:
    """A page in a fresh context (its own cookies), Vietnamese locale unless told otherwise."""
    ctx = browser.new_context(**{"locale": "vi-VN", **context})
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    return ctx.new_page()


def login(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the form. The navigation listener is set before the form is submitted, and a
    failure says what the page showed instead of only timing out."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    try:
        with page.expect_navigation(url=lambda url: "/login" not in url, timeout=DEFAULT_TIMEOUT_MS):
            page.click("form[action='/login'] button[type=submit]")
    except Exception as exc:
        alert = page.locator("[role=alert]")
        shown = alert.first.inner_text() if alert.count() else "(no error shown)"
        raise AssertionError(f"login as {username!r} did not leave {page.url}: {shown}") from exc
