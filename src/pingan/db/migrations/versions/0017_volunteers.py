"""volunteers

Volunteer programmes and their teams, volunteers (their sign-up, the community's decision, the
person they are), activities with their check-in codes, attendance, recognition levels.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


NOW = datetime.now(UTC)
# The seed's programmes and the national star ratings of volunteers (星级志愿者), as shipped.
PROGRAMMES = (
    ("red_armband", "红袖套", "治安巡逻与文明劝导"),
    ("blue_vest", "蓝马甲", "政策宣讲与便民服务"),
    ("orange_ribbon", "橙丝带", "邻里纠纷调解与关爱帮扶"),
)
LEVELS = (("一星志愿者", 100), ("二星志愿者", 300), ("三星志愿者", 600), ("四星志愿者", 1000),
          ("五星志愿者", 1500))  # fmt: skip


def upgrade() -> None:
    levels = op.create_table(
        "volunteer_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_levels")),
    )
    programmes = op.create_table(
        "volunteer_programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_programmes")),
        sa.UniqueConstraint("code", name=op.f("uq_volunteer_programmes_code")),
    )
    op.bulk_insert(levels, [{"name": n, "hours": h} for n, h in LEVELS])
    op.bulk_insert(
        programmes,
        [
            {"code": c, "name": n, "description": d, "builtin": True, "active": True,
             "created_at": NOW, "updated_at": NOW}
            for c, n, d in PROGRAMMES
        ],
    )  # fmt: skip
    op.create_table(
        "volunteer_teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_volunteer_teams_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["volunteer_programmes.id"],
            name=op.f("fk_volunteer_teams_programme_id_volunteer_programmes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_teams")),
    )
    with op.batch_alter_table("volunteer_teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_teams_path"), ["path"], unique=False)

    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "confirmed",
                "refused",
                "left",
                name="state",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("decided_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["territory_nodes.id"],
            name=op.f("fk_volunteers_community_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_volunteers_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["volunteer_programmes.id"],
            name=op.f("fk_volunteers_programme_id_volunteer_programmes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["volunteer_teams.id"],
            name=op.f("fk_volunteers_team_id_volunteer_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_volunteers_key_hash")),
        sa.UniqueConstraint("programme_id", "phone", name=op.f("uq_volunteers_programme_id")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteers_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volunteers_path"), ["path"], unique=False)
        batch_op.create_index(batch_op.f("ix_volunteers_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volunteers_programme_id"), ["programme_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volunteers_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_volunteers_team_id"), ["team_id"], unique=False)

    op.create_table(
        "volunteer_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "civility",
                "policy_talk",
                "mediation",
                "patrol",
                "service",
                name="activitykind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("starts_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_volunteer_activities_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_volunteer_activities_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["volunteer_programmes.id"],
            name=op.f("fk_volunteer_activities_programme_id_volunteer_programmes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_activities")),
    )
    with op.batch_alter_table("volunteer_activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_activities_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_volunteer_activities_path"), ["path"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volunteer_activities_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "volunteer_attendances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("signed_up_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_lon", sa.Float(), nullable=True),
        sa.Column("in_lat", sa.Float(), nullable=True),
        sa.Column("out_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["volunteer_activities.id"],
            name=op.f("fk_volunteer_attendances_activity_id_volunteer_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_volunteer_attendances_volunteer_id_volunteers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_attendances")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_volunteer_attendances_activity_id")
        ),
    )
    with op.batch_alter_table("volunteer_attendances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_attendances_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volunteer_attendances_volunteer_id"), ["volunteer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteer_attendances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_attendances_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_volunteer_attendances_activity_id"))

    op.drop_table("volunteer_attendances")
    with op.batch_alter_table("volunteer_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_activities_starts_at"))
        batch_op.drop_index(batch_op.f("ix_volunteer_activities_path"))
        batch_op.drop_index(batch_op.f("ix_volunteer_activities_code"))

    op.drop_table("volunteer_activities")
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteers_team_id"))
        batch_op.drop_index(batch_op.f("ix_volunteers_state"))
        batch_op.drop_index(batch_op.f("ix_volunteers_programme_id"))
        batch_op.drop_index(batch_op.f("ix_volunteers_person_id"))
        batch_op.drop_index(batch_op.f("ix_volunteers_path"))
        batch_op.drop_index(batch_op.f("ix_volunteers_community_id"))

    op.drop_table("volunteers")
    with op.batch_alter_table("volunteer_teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_teams_path"))

    op.drop_table("volunteer_teams")
    op.drop_table("volunteer_programmes")
    op.drop_table("volunteer_levels")
