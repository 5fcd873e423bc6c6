"""targets

The street's targets with their readings (computed each day, or entered with evidence), and the
water, power and gas works of a renovation project.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("target_value", sa.Float(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_targets_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_targets_path"), ["path"], unique=False)

    op.create_table(
        "target_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("computed", "entered", name="source", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.Column("evidence_type", sa.String(length=32), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("entered_by", sa.String(length=100), nullable=True),
        sa.Column("at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_target_readings_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_readings")),
        sa.UniqueConstraint(
            "target_id", "on", "source", "seq", name=op.f("uq_target_readings_target_id")
        ),
    )
    with op.batch_alter_table("target_readings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_target_readings_target_id"), ["target_id"], unique=False
        )

    with op.batch_alter_table("renovation_projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("utilities", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("renovation_projects", schema=None) as batch_op:
        batch_op.drop_column("utilities")

    with op.batch_alter_table("target_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_readings_target_id"))

    op.drop_table("target_readings")
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targets_path"))

    op.drop_table("targets")
