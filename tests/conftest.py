"""Test databases are real: SQLite files or PostgreSQL databases, built by running the migrations.

DANCU_TEST_DB=sqlite (default) or postgresql selects the engine; DANCU_TEST_PG_URL points at a server
(default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres). Each test runs inside an outer transaction
that is rolled back; code under test commits to SAVEPOINTs (join_transaction_mode="create_savepoint").
Tests that need real commits (imports, CLI, live servers) use `fresh_db`, a database of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support import TestDatabase, build_database, drop_database

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from dancu.config import Settings

# Property tests draw the same examples on every run, so a suite that passed once passes again (CI must not
# turn red by chance); HYPOTHESIS_EXPLORE=1 draws new ones when hunting for bugs.
hypothesis_settings.register_profile("repeatable", derandomize=True, deadline=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile("explore" if os.environ.get("HYPOTHESIS_EXPLORE") else "repeatable")

ENGINE = os.environ.get("DANCU_TEST_DB", "sqlite")
PG_URL = os.environ.get("DANCU_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

DB_FIXTURES = {"database", "session", "fresh_db", "client", "app", "live_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL run, only tests that touch a database run again."""
    if ENGINE != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        (keep if DB_FIXTURES & set(getattr(item, "fixturenames", ())) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"shared/ not found beside the repository at {SHARED}"
    return SHARED


def _new_url(tmp: Path) -> str:
    if ENGINE == "postgresql":
        name = f"dancu_test_{uuid.uuid4().hex[:12]}"
        return str(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    return f"sqlite+aiosqlite:///{(tmp / f'{uuid.uuid4().hex[:8]}.db').as_posix()}"


@pytest.fixture(scope="session")
def _template_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _new_url(tmp_path_factory.mktemp("db"))
    build_database(url, PG_URL)
    yield url
    drop_database(url, PG_URL)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(_template_url: str) -> AsyncIterator[TestDatabase]:
    db = TestDatabase(_template_url)
    yield db
    await db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def session(database: TestDatabase) -> AsyncIterator[AsyncSession]:
    from dancu.notifications.service import invalidate_webhook_cache

    async with database.bound() as s:
        yield s
    # The test's transaction is rolled back: a process cache filled inside it (the active webhooks) would
    # name rows that never existed for the next test.
    invalidate_webhook_cache()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[str]:
    """The URL of a new, migrated database with the units loaded, dropped after the test."""
    url = _new_url(tmp_path)
    build_database(url, PG_URL)
    yield url
    drop_database(url, PG_URL)


@pytest.fixture(scope="session", autouse=True)
def _drop_templates() -> Iterator[None]:
    yield
    from tests.support import drop_templates

    drop_templates(PG_URL)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    from dancu.config import Settings

    return Settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url="sqlite+aiosqlite:///unused.db",
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def app(database: TestDatabase, session: AsyncSession, settings: Settings) -> FastAPI:
    from dancu.app import create_app

    return create_app(settings, db=database)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    import httpx

    # Pages default to Vietnamese; tests assert on the English messages, so this client asks for English
    # (tests/test_i18n.py checks the Vietnamese default).
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver", cookies={"lang": "en"}
    ) as c:
        yield c

