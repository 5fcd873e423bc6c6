"""service time counted from runs and tasks

A member's service time is the sum of the runs they walked and the tasks they worked on, counted
where it is asked (patrol.service.service_minutes); the counter that floored each to minutes and
drifted from the figures is gone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patrol_members", schema=None) as batch_op:
        batch_op.drop_column("service_minutes")


def downgrade() -> None:
    with op.batch_alter_table("patrol_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("service_minutes", sa.Integer(), nullable=False, server_default="0")
        )
