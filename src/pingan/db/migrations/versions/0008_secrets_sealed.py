"""device secrets sealed under the data key: DC-09 AES keys, camera stream URLs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("sia_key", type_=sa.Text(), existing_type=sa.String(length=64))
        batch_op.alter_column("stream_url", type_=sa.Text(), existing_type=sa.String(length=500))
    from pingan.db.base import SEALED_PREFIX, Sealed
    from pingan.faces.vault import KeyMissing

    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, sia_key, stream_url FROM devices WHERE sia_key IS NOT NULL OR stream_url IS NOT NULL"
        )
    ).all()
    sealed = Sealed()
    for device_id, key, url in rows:
        values = {}
        try:
            for name, value in (("sia_key", key), ("stream_url", url)):
                if value and not value.startswith(SEALED_PREFIX):
                    values[name] = sealed.process_bind_param(value, bind.dialect)
        except KeyMissing:
            log.warning("PINGAN_DATA_KEY is not set: device secrets stay unsealed until it is")
            return
        if values:
            sets = ", ".join(f"{k} = :{k}" for k in values)
            bind.execute(
                sa.text(f"UPDATE devices SET {sets} WHERE id = :id"), {**values, "id": device_id}
            )


def downgrade() -> None:
    from pingan.db.base import Sealed

    bind = op.get_bind()
    sealed = Sealed()
    for device_id, key, url in bind.execute(
        sa.text("SELECT id, sia_key, stream_url FROM devices")
    ).all():
        bind.execute(
            sa.text("UPDATE devices SET sia_key = :k, stream_url = :u WHERE id = :id"),
            {
                "k": sealed.process_result_value(key, bind.dialect),
                "u": sealed.process_result_value(url, bind.dialect),
                "id": device_id,
            },
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("stream_url", type_=sa.String(length=500), existing_type=sa.Text())
        batch_op.alter_column("sia_key", type_=sa.String(length=64), existing_type=sa.Text())
