"""no foreign keys to hot parent rows on passages, notices and passage counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:30:00

Every foreign key check locks the referenced row (FOR KEY SHARE) and writes that lock to the WAL. Concurrent
passage batches all reference the same checkpoint and officer rows, so those locks become multixacts, and a
notice carried five such checks (two notices per passage). Measured on the scan benchmark: notices' insert
1.38 -> 0.39 ms per batch of 11 rows, passages' 1.0 -> 0.5 ms per 5 rows. Passages keep their keys to the
person, the declaration and the green-lane pass; notices copy their source row's references; counts are
derived data. See docs/architecture.md, "Foreign keys".
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, column, referred table, referred column, on delete)
_DROPPED = [
    ("passages", "fk_passages_checkpoint_id_checkpoints", "checkpoint_id", "checkpoints", "id", "RESTRICT"),
    ("passages", "fk_passages_officer_id_accounts", "officer_id", "accounts", "id", "RESTRICT"),
    ("notices", "fk_notices_unit_code_units", "unit_code", "units", "code", "RESTRICT"),
    ("notices", "fk_notices_person_id_persons", "person_id", "persons", "id", "RESTRICT"),
    ("notices", "fk_notices_declaration_id_declarations", "declaration_id", "declarations", "id", "RESTRICT"),
    ("notices", "fk_notices_passage_id_passages", "passage_id", "passages", "id", "RESTRICT"),
    ("notices", "fk_notices_checkpoint_id_checkpoints", "checkpoint_id", "checkpoints", "id", "RESTRICT"),
    ("passage_counts", "fk_passage_counts_checkpoint_id_checkpoints", "checkpoint_id", "checkpoints", "id", "CASCADE"),
]


def upgrade() -> None:
    for table in ("passages", "notices", "passage_counts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for t, name, *_ in _DROPPED:
                if t == table:
                    batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in ("passages", "notices", "passage_counts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for t, name, column, referred, referred_column, ondelete in _DROPPED:
                if t == table:
                    batch_op.create_foreign_key(name, referred, [column], [referred_column], ondelete=ondelete)
