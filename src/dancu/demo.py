"""`dancu demo seed`: a synthetic population on the real units, and one demo account per role."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.accounts.service import ensure_account
from dancu.config import get_settings
from dancu.core.db import Database
from dancu.registry.models import Person

demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
console = Console()

DEMO_PASSWORD = "demo-dancu-2021"  # noqa: S105 - printed on purpose: demo accounts only
DEMO_PROVINCE = "01"  # Hà Nội


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    unit_code: str
    display_name: str


async def _demo_commune(session: AsyncSession) -> str:
    """The Hà Nội commune with the most seeded residents (so the demo commune has people in it)."""
    from sqlalchemy import func

    code = await session.scalar(
        select(Person.current_unit_code)
        .where(Person.current_unit_code.in_(select_commune_codes(DEMO_PROVINCE)))
        .group_by(Person.current_unit_code)
        .order_by(func.count().desc(), Person.current_unit_code)
        .limit(1)
    )
    return code or "00004"


def select_commune_codes(province: str):  # type: ignore[no-untyped-def]
    from dancu.units.models import Unit

    return select(Unit.code).where(Unit.parent_code == province)


async def create_demo_accounts(session: AsyncSession) -> list[DemoLogin]:
    commune = await _demo_commune(session)
    logins = [
        DemoLogin("admin", Role.ADMIN, "VN", "Quản trị hệ thống"),
        DemoLogin("official.national", Role.OFFICIAL, "VN", "Cán bộ Trung ương"),
        DemoLogin("official.hanoi", Role.OFFICIAL, DEMO_PROVINCE, "Cán bộ TP Hà Nội"),
        DemoLogin("official.commune", Role.OFFICIAL, commune, "Cán bộ cấp xã"),
        DemoLogin("health.worker", Role.HEALTH_WORKER, commune, "Nhân viên y tế"),
        DemoLogin("checkpoint.officer", Role.CHECKPOINT_OFFICER, DEMO_PROVINCE, "Cán bộ chốt kiểm soát"),
        DemoLogin("venue.staff", Role.VENUE_STAFF, commune, "Nhân viên địa điểm"),
        DemoLogin("agency.client", Role.AGENCY, "VN", "Hệ thống Bộ ngành"),
    ]
    for d in logins:
        await ensure_account(
            session,
            username=d.username,
            password=DEMO_PASSWORD,
            role=d.role,
            unit_code=d.unit_code,
            display_name=d.display_name,
        )
    await _demo_checkpoint(session, commune)
    citizen = await session.scalar(
        select(Person)
        .where(Person.current_unit_code == commune, Person.household_relation == "Chủ hộ")
        .order_by(Person.id)
        .limit(1)
    ) or await session.scalar(select(Person).where(Person.current_unit_code == commune).order_by(Person.id).limit(1))
    if citizen is not None:
        await ensure_account(
            session,
            username=citizen.national_id,
            password=DEMO_PASSWORD,
            role=Role.CITIZEN,
            unit_code=citizen.current_unit_code,
            display_name=citizen.full_name,
            person_id=citizen.id,
        )
        logins.append(DemoLogin(citizen.national_id, Role.CITIZEN, citizen.current_unit_code, citizen.full_name))
    return logins


DEMO_CHECKPOINT = "Chốt kiểm soát cửa ngõ (demo)"


async def _demo_checkpoint(session: AsyncSession, commune: str) -> None:
    """A checkpoint in the demo commune with the demo officer assigned, created as the Hà Nội official."""
    from dancu.accounts.repository import by_username
    from dancu.accounts.service import actor_from
    from dancu.checkpoints import service as checkpoints
    from dancu.checkpoints.schemas import CheckpointCreate
    from dancu.units.repository import get as get_unit

    official = await by_username(session, "official.hanoi")
    unit = await get_unit(session, DEMO_PROVINCE)
    assert official is not None and unit is not None
    actor = actor_from(official, unit)
    existing = await checkpoints.list_checkpoints(session, actor, q=DEMO_CHECKPOINT)
    if existing.items:
        checkpoint_id = existing.items[0].id
    else:
        created = await checkpoints.create_checkpoint(
            session, actor, CheckpointCreate(name=DEMO_CHECKPOINT, unit_code=commune, kind="city_gateway")
        )
        checkpoint_id = created.id
    officers = await checkpoints.officers(session, actor, checkpoint_id)
    if not any(o.username == "checkpoint.officer" for o in officers):
        await checkpoints.assign(session, actor, checkpoint_id, username="checkpoint.officer")


def print_logins(logins: list[DemoLogin]) -> None:
    table = Table(title=f"Demo logins (password for all: {DEMO_PASSWORD})")
    for col in ("username", "role", "unit", "name"):
        table.add_column(col)
    for d in logins:
        table.add_row(d.username, str(d.role), d.unit_code, d.display_name)
    console.print(table)


@demo_app.command("seed")
def seed(
    people: Annotated[int, typer.Option(min=0, help="How many people to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same people)")] = 2021,
) -> None:
    """Seed a synthetic population and create one demo account per role."""
    from dancu.registry.seed import seed_population

    async def run() -> list[DemoLogin]:
        db = Database(get_settings().database_url)
        try:
            if people:
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                ) as bar:
                    task = bar.add_task("people", total=people)
                    await seed_population(db, people, seed=seed, progress=lambda done: bar.update(task, completed=done))
            async with db.unit_of_work() as s:
                return await create_demo_accounts(s)
        finally:
            await db.dispose()

    print_logins(asyncio.run(run()))


@demo_app.command("logins")
def logins() -> None:
    """Print the demo logins again."""

    async def run() -> list[DemoLogin]:
        db = Database(get_settings().database_url)
        try:
            async with db.unit_of_work() as s:
                return await create_demo_accounts(s)
        finally:
            await db.dispose()

    print_logins(asyncio.run(run()))
