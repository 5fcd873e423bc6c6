"""renovation projects

Renovation projects of old courtyards with their residents' consultations (minutes kept), their
timelines and photos.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "renovation_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("works", sa.Text(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("budget_yuan", sa.Integer(), nullable=False),
        sa.Column("funding", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "consulted",
                "approved",
                "in_works",
                "accepted",
                "managed",
                "dropped",
                name="projectstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("consulted_on", sa.Date(), nullable=True),
        sa.Column("approved_on", sa.Date(), nullable=True),
        sa.Column("works_on", sa.Date(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("managed_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_renovation_projects_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation_projects")),
    )
    with op.batch_alter_table("renovation_projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renovation_projects_path"), ["path"], unique=False)

    op.create_table(
        "renovation_consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("votes_for", sa.Integer(), nullable=False),
        sa.Column("votes_against", sa.Integer(), nullable=False),
        sa.Column("abstained", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum("agreed", "refused", name="decision", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("minutes", sa.LargeBinary(), nullable=False),
        sa.Column("minutes_type", sa.String(length=32), nullable=False),
        sa.Column("minutes_sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["renovation_projects.id"],
            name=op.f("fk_renovation_consultations_project_id_renovation_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation_consultations")),
    )
    with op.batch_alter_table("renovation_consultations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_consultations_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "renovation_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["renovation_projects.id"],
            name=op.f("fk_renovation_entries_project_id_renovation_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation_entries")),
    )
    with op.batch_alter_table("renovation_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_entries_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "renovation_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["renovation_entries.id"],
            name=op.f("fk_renovation_photos_entry_id_renovation_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["renovation_projects.id"],
            name=op.f("fk_renovation_photos_project_id_renovation_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renovation_photos")),
    )
    with op.batch_alter_table("renovation_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_renovation_photos_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("renovation_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_photos_project_id"))

    op.drop_table("renovation_photos")
    with op.batch_alter_table("renovation_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_entries_project_id"))

    op.drop_table("renovation_entries")
    with op.batch_alter_table("renovation_consultations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_consultations_project_id"))

    op.drop_table("renovation_consultations")
    with op.batch_alter_table("renovation_projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renovation_projects_path"))

    op.drop_table("renovation_projects")
