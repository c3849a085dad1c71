"""The `dancu` command line: database, keys, QR codes, rules, register imports, demo data, audit."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dancu.config import get_settings
from dancu.core.db import Database

T = TypeVar("T")
console = Console(stderr=True)
app = typer.Typer(
    help="dancu: epidemic response on top of the national population register.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database: migrations and checks.", no_args_is_help=True)
units_app = typer.Typer(help="Administrative units.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")

# Sub-apps owned by their domains: (module, attribute, command name).
DOMAIN_APPS = [
    ("dancu.credentials.cli", "keys_app", "keys"),
    ("dancu.credentials.cli", "qr_app", "qr"),
    ("dancu.rules.cli", "rules_app", "rules"),
    ("dancu.registry.cli", "registry_app", "registry"),
    ("dancu.notifications.cli", "notifications_app", "notifications"),
    ("dancu.demo", "demo_app", "demo"),
]
for module_name, attr, name in DOMAIN_APPS:
    app.add_typer(getattr(importlib.import_module(module_name), attr), name=name)


def run_with_db(fn: Callable[[Database], Awaitable[T]]) -> T:
    """Run an async command against the configured database, disposing the engine afterwards."""

    async def runner() -> T:
        db = Database(get_settings().database_url)
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(runner())


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _ensure_data_dir() -> None:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations, then load the official administrative units."""
    from dancu.db import upgrade
    from dancu.units.service import load_official_units

    _ensure_data_dir()
    settings = get_settings()
    upgrade(settings.database_url, revision)

    async def load(db: Database) -> int:
        async with db.unit_of_work() as s:
            return await load_official_units(s)

    n = run_with_db(load)
    console.print(f"[green]database is at {revision}[/]; {n} administrative units loaded")


@db_app.command("check")
def db_check() -> None:
    """Fail when the models and the migrations have drifted apart."""
    from dancu.db import check

    check(get_settings().database_url)
    console.print("[green]models and migrations agree[/]")


@units_app.command("load")
def units_load() -> None:
    """(Re)load the official administrative units from the vietnamadminunits dataset."""
    from dancu.units.service import load_official_units

    async def load(db: Database) -> int:
        async with db.unit_of_work() as s:
            return await load_official_units(s)

    console.print(f"{run_with_db(load)} units loaded")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 if any event was edited or deleted."""
    from dancu.audit.service import verify_chain

    async def verify(db: Database) -> object:
        async with db.sessionmaker() as s:
            from dancu.audit.repository import count

            total = await count(s)
            with progress_bar() as bar:
                task = bar.add_task("verifying", total=total)
                return await verify_chain(s, progress=lambda n: bar.update(task, completed=n))

    report = run_with_db(verify)
    if getattr(report, "ok", False):
        console.print(f"[green]audit chain intact[/]: {report.checked} events")  # type: ignore[attr-defined]
        return
    console.print(f"[red]audit chain broken[/]: {report.reason}")  # type: ignore[attr-defined]
    raise typer.Exit(1)


@accounts_app.command("create-admin")
def create_admin(
    username: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)], unit: str = "VN"
) -> None:
    """Create (or reset the password of) an admin account."""
    from dancu.accounts.permissions import Role
    from dancu.accounts.service import check_password_strength, ensure_account

    check_password_strength(password, username)

    async def create(db: Database) -> None:
        async with db.unit_of_work() as s:
            await ensure_account(
                s, username=username, password=password, role=Role.ADMIN, unit_code=unit, display_name=username
            )

    run_with_db(create)
    console.print(f"admin account {username} ready")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the web app and API."""
    import uvicorn

    uvicorn.run(
        "dancu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=False,
    )


def main() -> None:
    app()
