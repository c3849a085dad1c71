"""`dancu registry ...`: import register files, write the import template, explain an ID number.

Exit codes: 0 = done (an import that rejected rows is still done: they are in the error file); 1 = the file
could not be imported at all (missing, not UTF-8, wrong header, database unusable) or the ID is invalid;
2 = the command line itself is wrong (unknown option, malformed --dob or --sex).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from sqlalchemy.exc import SQLAlchemyError

from dancu.config import get_settings
from dancu.core.db import Database
from dancu.core.errors import DomainError
from dancu.registry.idnumber import InvalidIdNumber, Sex, validate_id
from dancu.registry.importer import ImportSummary, import_file, write_template
from dancu.registry.seed import seed_population
from dancu.registry.validation import parse_dob

registry_app = typer.Typer(
    help="The population register: import CSV/XLSX files, write the import template, check ID numbers.",
    no_args_is_help=True,
)
_SEX_WORDS: dict[str, Sex] = {"nam": "M", "m": "M", "nữ": "F", "nu": "F", "f": "F"}


def _fail(reason: str) -> NoReturn:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {reason}", highlight=False)
    raise typer.Exit(code=1)


async def demo_seed(db: Database, n: int, seed: int, progress: Callable[[int], None] | None = None) -> int:
    """A synthetic population of `n` people for `dancu demo seed` (same seed, same people)."""
    return await seed_population(db, n, seed=seed, progress=progress)


def _print_summary(path: Path, summary: ImportSummary) -> None:
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{path.name}[/]: processed")
    for label, value in (("rows read", summary.read), ("new", summary.imported), ("updated", summary.updated),
                         ("unchanged", summary.unchanged), ("rejected", summary.rejected)):
        console.print(f"  {label:<10} {value:>12,}")
    if summary.error_file is not None:
        console.print(f"  error file {summary.error_file}  (fix the rows there and import that file again)")
    else:
        console.print("  error file none")


@registry_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A .csv (UTF-8) or .xlsx register file.", show_default=False)],
    errors: Annotated[Path | None, typer.Option(
        "--errors", help="Where to write rejected rows [default: FILE.errors.csv beside the file]")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per transaction.")] = 10_000,
) -> None:
    """Import a register file: rejected rows go to an error file you can fix and import again."""
    errors_path = errors or file.with_name(file.stem + ".errors.csv")
    size = file.stat().st_size if file.is_file() else 0

    async def run() -> ImportSummary:
        db = Database(get_settings().database_url)
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("importing", total=size or None)

                def progress(done: int, rows: int) -> None:
                    bar.update(task, completed=done, description=f"{rows:,} rows")

                return await import_file(db, file, errors_path=errors_path, progress=progress,
                                         batch_size=batch_size, parallel=True)
        finally:
            await db.dispose()

    try:
        summary = asyncio.run(run())
    except DomainError as exc:
        _fail(f"cannot import {file}: {exc.message}")
    except (SQLAlchemyError, OSError) as exc:
        _fail(f"cannot import {file}: {exc}")
    except KeyboardInterrupt:
        _fail("interrupted: a first load into an empty register is rolled back whole; otherwise the batches "
              "committed so far stay. Import the file again to finish (it is safe)")
    _print_summary(file, summary)


@registry_app.command("template")
def template_command(
    out: Annotated[Path, typer.Argument(help="The CSV file to write.", show_default=False)],
) -> None:
    """Write the import file's header row and two example rows (UTF-8 with BOM, opens right in Excel)."""
    try:
        write_template(out)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc}")
    typer.echo(f"wrote {out}: the header row and 2 example rows")


@registry_app.command("check-id")
def check_id_command(
    number: Annotated[str, typer.Argument(metavar="ID", help="A 12-digit personal ID number.")],
    dob: Annotated[str | None, typer.Option("--dob", help="Date of birth to check (YYYY-MM-DD).")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="Sex to check against: Nam or Nữ.")] = None,
) -> None:
    """Say what an ID number encodes; exit 1 with the reason when it is invalid or contradicts --dob/--sex."""
    birth = None
    if dob is not None:
        try:
            birth = parse_dob(dob.strip())
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--dob") from None
    sex_code = None
    if sex is not None:
        sex_code = _SEX_WORDS.get(sex.strip().lower())
        if sex_code is None:
            raise typer.BadParameter(f"{sex!r} is not Nam or Nữ", param_hint="--sex")
    try:
        d = validate_id(number, dob=birth, sex=sex_code)
    except InvalidIdNumber as exc:
        _fail(f"invalid ID number: {exc.message}")
    where = f"abroad (code {d.province_code})" if d.foreign_birth else f"{d.province_code} {d.province_name}"
    typer.echo(f"{d.number}: valid")
    typer.echo(f"  birth registered in  {where}")
    typer.echo(f"  century              {d.century}s (digit {d.number[3]})")
    typer.echo(f"  sex                  {'Nam (male)' if d.sex == 'M' else 'Nữ (female)'}")
    typer.echo(f"  year of birth        {d.century + d.year_two_digits}")
    typer.echo(f"  serial               {d.number[6:]}")
    if birth is not None or sex_code is not None:
        typer.echo("  agrees with the given " + " and ".join(
            w for w, given in (("date of birth", birth), ("sex", sex_code)) if given is not None))
