"""Writing persons in bulk (PostgreSQL and SQLite): batch upserts, and the first load of an empty register.

The batch upsert (`open_writer`, `BulkWriter`): each batch goes into a temporary staging table (PostgreSQL:
binary COPY; SQLite: executemany), then one INSERT ... SELECT ... ON CONFLICT (national_id), one transaction
per batch.

The first load (`first_load`, PostgreSQL). Keeping persons' unique national_id index, five secondary indexes
and two foreign keys up to date costs PostgreSQL about 30 us per inserted row; building them once the rows
are in costs a few seconds per million rows. So when persons is empty, an import:

1. takes LOCK TABLE persons IN ACCESS EXCLUSIVE MODE and checks, under the lock, that it is still empty;
2. reads the table's unique and exclusion constraints, foreign keys and secondary indexes from pg_catalog
   (pg_get_constraintdef / pg_get_indexdef: what is rebuilt is exactly what was there) and drops them; the
   primary key, the check constraints and anything another table's foreign key depends on stay;
3. gives status, created_at and updated_at (the same for every row) column defaults for the load, then
   COPYs every valid row's own columns straight into persons, batch by batch (text format, `copy_text`);
4. puts the three columns' defaults back as they were, recreates the unique constraints, then the indexes,
   then the foreign keys, and commits.

All of it is ONE transaction, and PostgreSQL DDL is transactional: an error (or a crash, or a killed
connection) at any step rolls back to the empty table with every index and constraint as it was. Rows that
would break a rebuilt constraint make the rebuild fail, which rolls the whole load back; the reader has
already rejected in-file duplicate IDs, so the unique constraint cannot fail on them. Other sessions wait
for persons (and for new references to it) until the load commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dancu.core.db import Database, utcnow
from dancu.core.errors import DomainError
from dancu.registry.validation import PERSON_COLUMNS, ImportFileError, PersonRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from dancu.registry.importer import Batch

log = logging.getLogger("dancu.registry.bulkload")

TABLE = "persons"
MAINTENANCE_WORK_MEM = "256MB"  # for the index builds, inside the load's transaction only (SET LOCAL)


# COPY's text format.
_NULL = "\\N"


def _escape(value: object) -> str:
    if value is None:
        return _NULL
    text = str(value)  # a date prints as YYYY-MM-DD
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(rows: Sequence[PersonRow], tail: str) -> bytes:
    """Rows in COPY's text format (tab-separated, \\N for NULL, backslash escapes), each line ending with `tail`
    (the constant columns and the newline). Clean values need no escaping: the lines are built as they are,
    and rebuilt value by value when the batch has a backslash, tab or line break more than its own."""
    lines, nulls, n = [], 0, _NULL
    for row in rows:
        nid, old_id, name, search, dob, sex, birth, punit, paddr, cunit, caddr, hh, rel, phone = row
        nulls += (old_id is None) + (hh is None) + (rel is None) + (phone is None)
        lines.append("\t".join((nid, n if old_id is None else old_id, name, search, dob.isoformat(), sex, birth,
                                punit, paddr, cunit, caddr, n if hh is None else hh, n if rel is None else rel,
                                n if phone is None else phone)))
    if not lines:
        return b""
    data = (tail.join(lines) + tail).encode()
    count = len(lines)
    if (data.count(b"\t") != count * (13 + tail.count("\t")) or data.count(b"\\") != nulls + count * tail.count("\\")
            or data.count(b"\n") != count * tail.count("\n") or b"\r" in data):
        data = "".join("\t".join(map(_escape, row)) + tail for row in rows).encode()
    return data


@dataclass(frozen=True, slots=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: tuple[str, ...] = ()  # IDs of persons registered outside the jurisdiction: left as they are


# The batch upsert: the persons table is reached only through a temporary staging table, one batch at a time.
_STAGE = "dancu_import_stage"
_COLS = ", ".join(PERSON_COLUMNS)
_STAGE_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ("
              + ", ".join(f"{c} {'date' if c == 'dob' else 'text'}" for c in PERSON_COLUMNS) + ")")


def _upsert(now: str, changed: str) -> str:
    """New persons are inserted, changed ones updated, identical ones left alone (no write, no dead row).
    In ID order, so that concurrent imports lock rows in the same order (no deadlock)."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in (*PERSON_COLUMNS[1:], "updated_at"))
    return (f"INSERT INTO persons ({_COLS}, status, created_at, updated_at) "
            f"SELECT {_COLS}, 'alive', {now}, {now} FROM {_STAGE} WHERE true ORDER BY national_id "
            f"ON CONFLICT (national_id) DO UPDATE SET {assignments} WHERE {changed}")


_PG_CHANGED = "({}) IS DISTINCT FROM ({})".format(
    ", ".join(f"persons.{c}" for c in PERSON_COLUMNS[1:]),
    ", ".join(f"excluded.{c}" for c in PERSON_COLUMNS[1:]),
)
_PG_UPSERT = (f"WITH w AS ({_upsert('now()', _PG_CHANGED)} RETURNING (xmax = 0) AS new) "
              "SELECT count(*) FILTER (WHERE new), count(*) FROM w")
_SQLITE_UPSERT = _upsert("?", " OR ".join(f"persons.{c} IS NOT excluded.{c}" for c in PERSON_COLUMNS[1:]))
_SQLITE_STAGE = f"INSERT INTO {_STAGE} VALUES ({', '.join('?' for _ in PERSON_COLUMNS)})"
_SQLITE_EXISTING = f"SELECT count(*) FROM {_STAGE} s JOIN persons p ON p.national_id = s.national_id"
# With a jurisdiction, persons already registered elsewhere are not overwritten: taken out of the batch.
_ALLOWED = "dancu_import_allowed"
_REFUSE = (f"DELETE FROM {_STAGE} WHERE national_id IN (SELECT p.national_id FROM persons p"
           f" JOIN {_STAGE} s ON s.national_id = p.national_id"
           f" WHERE p.permanent_unit_code NOT IN (SELECT code FROM {_ALLOWED})"
           f" AND p.current_unit_code NOT IN (SELECT code FROM {_ALLOWED})) RETURNING national_id")


class BulkWriter:
    """Upserts valid rows (`PERSON_COLUMNS` order) on national_id, one transaction per batch, on a connection
    of its own held for the whole run: PostgreSQL binary COPY (asyncpg) or SQLite executemany into a temporary
    table, then one INSERT ... SELECT ... ON CONFLICT."""

    def __init__(self, conn: AsyncConnection, pg: Any, restricted: bool) -> None:
        self.conn, self.pg, self.restricted = conn, pg, restricted

    async def write(self, batch: Batch) -> WriteCounts:
        rows = batch.rows
        if not rows:
            return WriteCounts()
        refused: tuple[str, ...] = ()
        if self.pg is not None:
            async with self.pg.transaction():
                await self.pg.copy_records_to_table(_STAGE, records=rows, columns=PERSON_COLUMNS)
                if self.restricted:
                    refused = tuple(r[0] for r in await self.pg.fetch(_REFUSE))
                new, changed = await self.pg.fetchrow(_PG_UPSERT)
            return WriteCounts(new, changed - new, len(rows) - len(refused) - changed, refused)
        now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's storage format for SQLite datetimes
        async with self.conn.begin():
            await self.conn.exec_driver_sql(f"DELETE FROM {_STAGE}")
            await self.conn.exec_driver_sql(_SQLITE_STAGE, [(*r[:4], r[4].isoformat(), *r[5:]) for r in rows])
            if self.restricted:
                refused = tuple(r[0] for r in await self.conn.exec_driver_sql(_REFUSE))
            existing = (await self.conn.exec_driver_sql(_SQLITE_EXISTING)).scalar_one()
            changed = (await self.conn.exec_driver_sql(_SQLITE_UPSERT, (now, now))).rowcount
        new = len(rows) - len(refused) - existing
        return WriteCounts(new, changed - new, existing - (changed - new), refused)


@asynccontextmanager
async def open_writer(db: Database, allowed: Collection[str] | None = None) -> AsyncIterator[BulkWriter]:
    """A bulk writer. With `allowed` units, persons already registered outside them are never modified."""
    codes = [(c,) for c in sorted(allowed or ())]
    allowed_ddl = f"CREATE TEMP TABLE IF NOT EXISTS {_ALLOWED} (code text PRIMARY KEY)"
    async with db.engine.connect() as conn:
        pg: Any = None
        if db.is_sqlite:
            for sql in (_STAGE_DDL, allowed_ddl, f"DELETE FROM {_ALLOWED}"):
                await conn.exec_driver_sql(sql)
            if codes:
                await conn.exec_driver_sql(f"INSERT INTO {_ALLOWED} VALUES (?)", codes)
            await conn.commit()
        else:
            pg = (await conn.get_raw_connection()).driver_connection
            await pg.execute(f"{_STAGE_DDL} ON COMMIT DELETE ROWS; {allowed_ddl}; DELETE FROM {_ALLOWED}")
            if codes:
                await pg.copy_records_to_table(_ALLOWED, records=codes)
        yield BulkWriter(conn, pg, allowed is not None)


# The first-load transaction.
# What it drops and rebuilds, in rebuild order: unique/exclusion constraints (except those another table's
# foreign key depends on), plain secondary indexes (not the primary key's, not a constraint's, not one a foreign
# key depends on), then persons' own foreign keys.
_DEFINITIONS = """
SELECT CASE c.contype WHEN 'f' THEN 2 ELSE 0 END AS step, c.conname::text AS name,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_sql,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS create_sql
FROM pg_constraint c
WHERE c.conrelid = $1::regclass
  AND (c.contype = 'f' OR (c.contype IN ('u', 'x') AND NOT EXISTS (
       SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid)))
UNION ALL
SELECT 1, i.indexrelid::regclass::text, format('DROP INDEX %s', i.indexrelid::regclass),
       pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY step, name
"""


class FirstLoadFailed(DomainError):
    """The first load could not rebuild an index or constraint: it was rolled back whole (persons is empty)."""

    status_code = 500
    code = "first_load_failed"


@dataclass(frozen=True, slots=True)
class Definition:
    step: int  # 0 unique/exclusion constraint, 1 index, 2 foreign key
    name: str
    drop_sql: str
    create_sql: str


async def definitions(pg: Any) -> list[Definition]:
    """The constraints and indexes a first load drops and rebuilds, in rebuild order."""
    return [Definition(**dict(r)) for r in await pg.fetch(_DEFINITIONS, TABLE)]


# The columns every row of a first load shares. COPYing them on each line cost ~70 of a line's ~230 bytes
# and two timestamp parses per row; instead they get column defaults for the load's transaction only
# (`LoadDefaults`), and the COPY leaves them out.
SHARED_COLUMNS: tuple[str, ...] = ("status", "created_at", "updated_at")

_DEFAULTS = """
SELECT a.attname AS name, pg_get_expr(d.adbin, d.adrelid) AS expr
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attname = ANY($2::text[]) ORDER BY a.attname
"""


class LoadDefaults:
    """`SHARED_COLUMNS` as column defaults while the first load COPYs, and what they were before, to put
    back before it commits. (Inside the load's transaction, under its exclusive lock: nobody else sees them,
    and a rollback undoes them with the rest.)"""

    def __init__(self, now: datetime) -> None:
        stamp = now.astimezone(UTC).isoformat(sep=" ")
        self.values = {"status": "'alive'", "created_at": f"'{stamp}'::timestamptz",
                       "updated_at": f"'{stamp}'::timestamptz"}
        self.before: dict[str, str | None] = {}

    async def set(self, pg: Any) -> None:
        self.before = {r["name"]: r["expr"] for r in await pg.fetch(_DEFAULTS, TABLE, list(SHARED_COLUMNS))}
        await pg.execute(f"ALTER TABLE {TABLE} " + ", ".join(
            f"ALTER COLUMN {name} SET DEFAULT {self.values[name]}" for name in SHARED_COLUMNS))

    async def restore(self, pg: Any) -> None:
        await pg.execute(f"ALTER TABLE {TABLE} " + ", ".join(
            f"ALTER COLUMN {name} DROP DEFAULT" if self.before.get(name) is None
            else f"ALTER COLUMN {name} SET DEFAULT {self.before[name]}" for name in SHARED_COLUMNS))


class FirstLoad:
    """The open first-load transaction: `write` COPYs a batch into persons, `finish` rebuilds and commits."""

    def __init__(self, pg: Any, transaction: Any, rebuild: list[Definition], defaults: LoadDefaults) -> None:
        self.pg, self.transaction, self.rebuild, self.defaults = pg, transaction, rebuild, defaults
        self.tail = "\n"  # COPY lines end after the person's own columns: `LoadDefaults` fills the rest
        self.rows = 0
        self.committed = False
        self.timings: dict[str, float] = {}  # seconds per rebuilt index or constraint, and the commit

    def encode(self, rows: Sequence[PersonRow]) -> bytes:
        return copy_text(rows, self.tail)

    async def write(self, batch: Batch) -> WriteCounts:
        if not batch.copy:
            return WriteCounts()
        # (a memoryview: asyncpg would take bytes for a file name)
        status = await self.pg.copy_to_table(TABLE, source=memoryview(batch.copy), columns=PERSON_COLUMNS,
                                             format="text")
        inserted = int(status.split()[-1])  # "COPY n"
        self.rows += inserted
        return WriteCounts(inserted=inserted)

    async def finish(self) -> None:
        """Recreate what was dropped and commit; FirstLoadFailed (everything rolled back) if a rebuild fails."""
        import asyncpg

        await self.defaults.restore(self.pg)
        await self.pg.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for item in self.rebuild:
            started = time.perf_counter()
            try:
                await self.pg.execute(item.create_sql)
            except asyncpg.PostgresError as exc:
                raise FirstLoadFailed(
                    f"the first load was rolled back, nothing was imported: rebuilding {item.name} after "
                    f"{self.rows} rows failed ({type(exc).__name__}: {exc})") from exc
            self.timings[item.name] = time.perf_counter() - started
        started = time.perf_counter()
        await self.transaction.commit()
        self.timings["commit"] = time.perf_counter() - started
        self.committed = True
        log.info("first load of %d rows committed; rebuild seconds: %s", self.rows,
                 ", ".join(f"{name} {seconds:.2f}" for name, seconds in self.timings.items()))


async def _is_empty(pg: Any) -> bool:
    return not await pg.fetchval(f"SELECT EXISTS (SELECT 1 FROM {TABLE})")


@asynccontextmanager
async def first_load(db: Database, *, insist: bool = False) -> AsyncIterator[FirstLoad | None]:
    """The first-load transaction on a connection of its own, or None when persons is not empty (checked
    before and again under the lock) or this role may not drop its indexes: then nothing was changed (and
    with `insist`, ImportFileError says why). Rolled back unless `finish` committed it."""
    import asyncpg

    not_empty = "a bulk first load needs an empty register, and persons has rows"
    async with db.engine.connect() as conn:
        pg: Any = (await conn.get_raw_connection()).driver_connection
        if not await _is_empty(pg):  # a cheap look first: no exclusive lock on a register in use
            if insist:
                raise ImportFileError(not_empty)
            yield None
            return
        transaction = pg.transaction()
        await transaction.start()
        load: FirstLoad | None = None
        try:
            try:
                await pg.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
                if await _is_empty(pg):
                    rebuild = await definitions(pg)
                    if rebuild:
                        await pg.execute("; ".join(d.drop_sql for d in reversed(rebuild)))
                    defaults = LoadDefaults(datetime.now(UTC))
                    await defaults.set(pg)
                    load = FirstLoad(pg, transaction, rebuild, defaults)
            except asyncpg.InsufficientPrivilegeError as exc:
                log.warning("no first load: this role may not drop persons' indexes (%s)", exc)
                if insist:
                    raise ImportFileError(f"a bulk first load is not allowed to this database role ({exc})") from None
            if load is None:
                await transaction.rollback()
                if insist:
                    raise ImportFileError(not_empty)
            yield load
        finally:
            if load is not None and not load.committed:  # stopped before finish() committed: undo it all
                try:
                    await transaction.rollback()
                except Exception:  # a broken connection: the server rolls back on its own
                    log.warning("could not roll the first load back explicitly", exc_info=True)


