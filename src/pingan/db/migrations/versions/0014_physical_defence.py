"""physical defence

Each site's facility sheet and register against the checklist, the inspections with their
answers and photos, and the checklist's versions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facility_checklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_checklists")),
    )
    op.create_table(
        "facility_sites",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("site_type", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("defects", sa.Integer(), nullable=False),
        sa.Column("completeness", sa.Float(), nullable=False),
        sa.Column("bundles", sa.JSON(), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["territory_nodes.id"],
            name=op.f("fk_facility_sites_site_id_territory_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_facility_sites")),
    )
    with op.batch_alter_table("facility_sites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_facility_sites_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_facility_sites_path"), ["path"], unique=False)

    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("checklist_version", sa.Integer(), nullable=False),
        sa.Column("inspector", sa.String(length=100), nullable=False),
        sa.Column("inspector_user_id", sa.Integer(), nullable=True),
        sa.Column("at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("not_applicable", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspector_user_id"],
            ["users.id"],
            name=op.f("fk_inspections_inspector_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["inspections.id"],
            name=op.f("fk_inspections_previous_id_inspections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["facility_sites.site_id"],
            name=op.f("fk_inspections_site_id_facility_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("client_key", name=op.f("uq_inspections_client_key")),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspections_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inspections_inspector_user_id"), ["inspector_user_id"], unique=False
        )
        batch_op.create_index("ix_inspections_path", ["path"], unique=False)
        batch_op.create_index(
            "ix_inspections_site_kind_at", ["site_id", "kind", "at"], unique=False
        )

    op.create_table(
        "facility_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unknown",
                "present",
                "missing",
                "broken",
                "na",
                name="itemstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("checked_by", sa.String(length=100), nullable=True),
        sa.Column("checked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("defect_incident_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["defect_incident_id"],
            ["incidents.id"],
            name=op.f("fk_facility_items_defect_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_facility_items_inspection_id_inspections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["facility_sites.site_id"],
            name=op.f("fk_facility_items_site_id_facility_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_items")),
        sa.UniqueConstraint("site_id", "code", name="site_code"),
    )
    with op.batch_alter_table("facility_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_facility_items_defect_incident_id"), ["defect_incident_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_facility_items_site_id"), ["site_id"], unique=False)

    op.create_table(
        "inspection_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unknown",
                "present",
                "missing",
                "broken",
                "na",
                name="itemstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_inspection_answers_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_inspection_answers_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_answers")),
        sa.UniqueConstraint("inspection_id", "code", name="inspection_code"),
    )
    with op.batch_alter_table("inspection_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspection_answers_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inspection_answers_inspection_id"), ["inspection_id"], unique=False
        )

    op.create_table(
        "facility_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["inspection_answers.id"],
            name=op.f("fk_facility_photos_answer_id_inspection_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["facility_sites.site_id"],
            name=op.f("fk_facility_photos_site_id_facility_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_photos")),
    )
    with op.batch_alter_table("facility_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_facility_photos_answer_id"), ["answer_id"], unique=False
        )
        batch_op.create_index("ix_facility_photos_site_code", ["site_id", "code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("facility_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_facility_photos_site_code")
        batch_op.drop_index(batch_op.f("ix_facility_photos_answer_id"))

    op.drop_table("facility_photos")
    with op.batch_alter_table("inspection_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_answers_inspection_id"))
        batch_op.drop_index(batch_op.f("ix_inspection_answers_incident_id"))

    op.drop_table("inspection_answers")
    with op.batch_alter_table("facility_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facility_items_site_id"))
        batch_op.drop_index(batch_op.f("ix_facility_items_defect_incident_id"))

    op.drop_table("facility_items")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_site_kind_at")
        batch_op.drop_index("ix_inspections_path")
        batch_op.drop_index(batch_op.f("ix_inspections_inspector_user_id"))
        batch_op.drop_index(batch_op.f("ix_inspections_community_id"))

    op.drop_table("inspections")
    with op.batch_alter_table("facility_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facility_sites_path"))
        batch_op.drop_index(batch_op.f("ix_facility_sites_community_id"))

    op.drop_table("facility_sites")
    op.drop_table("facility_checklists")
