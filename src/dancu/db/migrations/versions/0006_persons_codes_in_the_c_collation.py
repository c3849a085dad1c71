"""persons' codes and folded names in the C collation (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 21:40:00

ID numbers, unit codes, household ids and the folded search name are compared byte by byte. In the database's
linguistic collation (C.UTF-8 or en_US.UTF-8 through libc) every comparison went through strcoll, without
abbreviated keys: building each of persons' indexes took 2-2.5x as long (1,000,000 rows: ~1.3-1.6 s against
~0.6-0.9 s), and the search_name index could not serve the prefix search (`LIKE 'nguyen van%'`). SQLite
compares bytes already (BINARY): nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = [("national_id", 12), ("search_name", 120), ("permanent_unit_code", 10), ("current_unit_code", 10),
            ("household_id", 20)]


def _set(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # One ALTER TABLE: the table and its indexes are rewritten once.
    op.execute("ALTER TABLE persons " + ", ".join(
        f"ALTER COLUMN {name} TYPE varchar({length}) COLLATE {collation}" for name, length in _COLUMNS))


def upgrade() -> None:
    _set('"C"')


def downgrade() -> None:
    _set('"default"')
