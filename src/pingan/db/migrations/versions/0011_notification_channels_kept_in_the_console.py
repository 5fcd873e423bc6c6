"""notification channels kept in the console

Robots, webhooks, mail and SMS recipients are entered and tried in the console, their secrets
sealed at rest, instead of written into the rules file.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("url", pingan.db.base.Sealed(), nullable=True),
        sa.Column("secret", pingan.db.base.Sealed(), nullable=True),
        sa.Column("to", sa.JSON(), nullable=False),
        sa.Column("mention", sa.JSON(), nullable=False),
        sa.Column("every_alarm", sa.Boolean(), nullable=False),
        sa.Column("responders", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_test_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_test_result", sa.Text(), nullable=True),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("key", name=op.f("uq_notification_channels_key")),
    )


def downgrade() -> None:
    op.drop_table("notification_channels")
