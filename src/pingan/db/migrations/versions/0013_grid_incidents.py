"""grid incidents

Cases from report to verified closure with their timelines and photos, the catalogue's
versions, the streets with their chiefs, and the Open311 clients' keys; the notification outbox
carries a case's messages too.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import pingan.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_catalogues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_catalogues")),
    )
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_clients_key_hash")),
    )
    op.create_table(
        "street_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("alley", sa.Boolean(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("communities", sa.JSON(), nullable=False),
        sa.Column("chief_user_id", sa.Integer(), nullable=True),
        sa.Column("officer_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chief_user_id"],
            ["users.id"],
            name=op.f("fk_street_lines_chief_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_street_lines_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["officer_user_id"],
            ["users.id"],
            name=op.f("fk_street_lines_officer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street_lines")),
    )
    with op.batch_alter_table("street_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_street_lines_chief_user_id"), ["chief_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_street_lines_officer_user_id"), ["officer_user_id"], unique=False
        )

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("handler", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "reported",
                "accepted",
                "rejected",
                "assigned",
                "in_hand",
                "done",
                "verified",
                "closed",
                "merged",
                name="incidentstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "resident",
                "grid",
                "patrol",
                "hotline",
                "alarm",
                "patrol_exception",
                "open311",
                "staff",
                name="channel",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("street_line_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("assignee_user_id", sa.Integer(), nullable=True),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("reporter_user_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=50), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("notify_sms", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=True),
        sa.Column("open311_client_id", sa.Integer(), nullable=True),
        sa.Column("media_url", sa.String(length=500), nullable=True),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("reject_reason", sa.String(length=32), nullable=True),
        sa.Column("reported_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("remind_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extension_asked", sa.Text(), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column(
            "rating",
            sa.Enum(
                "satisfied", "fair", "unsatisfied", name="rating", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("rating_note", sa.Text(), nullable=True),
        sa.Column("rated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["alarms.id"],
            name=op.f("fk_incidents_alarm_id_alarms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_user_id"],
            ["users.id"],
            name=op.f("fk_incidents_assignee_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["patrol_checkpoints.id"],
            name=op.f("fk_incidents_checkpoint_id_patrol_checkpoints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["territory_nodes.id"],
            name=op.f("fk_incidents_community_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["territory_nodes.id"],
            name=op.f("fk_incidents_grid_id_territory_nodes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["incidents.id"],
            name=op.f("fk_incidents_merged_into_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["territory_nodes.id"],
            name=op.f("fk_incidents_node_id_territory_nodes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["open311_client_id"],
            ["open311_clients.id"],
            name=op.f("fk_incidents_open311_client_id_open311_clients"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_user_id"],
            ["users.id"],
            name=op.f("fk_incidents_reporter_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["street_line_id"],
            ["street_lines.id"],
            name=op.f("fk_incidents_street_line_id_street_lines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("token", name=op.f("uq_incidents_token")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_assignee_user_id"), ["assignee_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incidents_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index("ix_incidents_due", ["is_open", "due_at"], unique=False)
        batch_op.create_index("ix_incidents_kind_reported", ["kind", "reported_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_index("ix_incidents_path", ["path"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_reporter_user_id"), ["reporter_user_id"], unique=False
        )
        batch_op.create_index("ix_incidents_state", ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_incidents_street_line_id"), ["street_line_id"], unique=False
        )

    op.create_table(
        "incident_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_entries_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_entries")),
    )
    with op.batch_alter_table("incident_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_entries_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", pingan.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["incident_entries.id"],
            name=op.f("fk_incident_photos_entry_id_incident_entries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_photos_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photos")),
    )
    with op.batch_alter_table("incident_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_photos_incident_id"), ["incident_id"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("message", sa.JSON(), nullable=True))
        batch_op.alter_column("alarm_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_notifications_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_incident_id_incidents"),
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE alarm_id IS NULL")  # the cases' messages
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_incident_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_notifications_incident_id"))
        batch_op.alter_column("alarm_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("message")
        batch_op.drop_column("incident_id")

    with op.batch_alter_table("incident_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_photos_incident_id"))

    op.drop_table("incident_photos")
    with op.batch_alter_table("incident_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_entries_incident_id"))

    op.drop_table("incident_entries")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_street_line_id"))
        batch_op.drop_index("ix_incidents_state")
        batch_op.drop_index(batch_op.f("ix_incidents_reporter_user_id"))
        batch_op.drop_index("ix_incidents_path")
        batch_op.drop_index(batch_op.f("ix_incidents_merged_into_id"))
        batch_op.drop_index("ix_incidents_kind_reported")
        batch_op.drop_index("ix_incidents_due")
        batch_op.drop_index(batch_op.f("ix_incidents_community_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_assignee_user_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_alarm_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("street_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_street_lines_officer_user_id"))
        batch_op.drop_index(batch_op.f("ix_street_lines_chief_user_id"))

    op.drop_table("street_lines")
    op.drop_table("open311_clients")
    op.drop_table("incident_catalogues")
