"""passage counts in shards

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:45:00

Concurrent passage batches incremented the same passage_counts rows and so waited for each other's
row lock until commit; each transaction now adds to one of several shards of a key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ["day", "checkpoint_id", "hour", "origin_province", "decision", "reason", "green_lane"]


def upgrade() -> None:
    with op.batch_alter_table("passage_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False))
        batch_op.drop_constraint("uq_passage_counts_key", type_="unique")
        batch_op.create_unique_constraint("uq_passage_counts_key", [*_KEY, "shard"])


def downgrade() -> None:
    # Fold the shards back into one row per key before the narrower unique constraint returns.
    key = ", ".join(_KEY)
    op.execute(
        "UPDATE passage_counts SET count = (SELECT sum(c.count) FROM passage_counts c WHERE "
        + " AND ".join(f"c.{k} = passage_counts.{k}" for k in _KEY)
        + f") WHERE id IN (SELECT min(id) FROM passage_counts GROUP BY {key})"
    )
    op.execute(f"DELETE FROM passage_counts WHERE id NOT IN (SELECT min(id) FROM passage_counts GROUP BY {key})")
    with op.batch_alter_table("passage_counts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_passage_counts_key", type_="unique")
        batch_op.create_unique_constraint("uq_passage_counts_key", _KEY)
        batch_op.drop_column("shard")
