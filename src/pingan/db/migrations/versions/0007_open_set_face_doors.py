"""open-set face doors: the measured rule, templates' home, door settings; DC-09 timestamps

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("face_engines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.JSON(), nullable=True))
    with op.batch_alter_table("face_templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_path", sa.String(length=255), nullable=True))
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("face_fpir", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("face_second_factor", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sia_require_timestamp", sa.Boolean(), nullable=True))
    # Templates enrolled before: their person's home, so that doors find them as before.
    op.execute(
        "UPDATE face_templates SET home_path = (SELECT territory_nodes.path FROM people "
        "JOIN territory_nodes ON territory_nodes.id = people.node_id "
        "WHERE people.id = face_templates.person_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("sia_require_timestamp")
        batch_op.drop_column("face_second_factor")
        batch_op.drop_column("face_fpir")
    with op.batch_alter_table("face_templates", schema=None) as batch_op:
        batch_op.drop_column("home_path")
    with op.batch_alter_table("face_engines", schema=None) as batch_op:
        batch_op.drop_column("rule")
