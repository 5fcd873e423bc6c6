"""enumerated words stored as keys

An alarm keeps its rule's title apart from its subject (the device or route), so that pages show
the title in the reader's language; a person's relation to the householder and kind of residence,
and a consent's purpose, are stored as keys and worded where they are shown.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RELATION = {
    "户主": "head",
    "本人": "head",
    "配偶": "spouse",
    "妻": "spouse",
    "夫": "spouse",
    "子女": "child",
    "子": "child",
    "女": "child",
    "儿子": "child",
    "女儿": "child",
    "孙子女": "grandchild",
    "孙子": "grandchild",
    "孙女": "grandchild",
    "父母": "parent",
    "父亲": "parent",
    "母亲": "parent",
    "祖父母": "grandparent",
    "兄弟姐妹": "sibling",
}
RESIDENCE = {"户籍": "registered", "常住": "permanent", "租住": "tenant", "流动": "floating"}
SEP = " · "

people = sa.table(
    "people",
    sa.column("id", sa.Integer),
    sa.column("relation", sa.String),
    sa.column("residence", sa.String),
    sa.column("notes", sa.Text),
)
consents = sa.table("face_consents", sa.column("purpose", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
    find = "strpos" if op.get_bind().dialect.name == "postgresql" else "instr"
    # Both right-hand sides read the row as it was: title and subject split in one statement.
    op.execute(
        f"UPDATE alarms SET subject = substr(title, {find}(title, '{SEP}') + {len(SEP)}), "
        f"title = substr(title, 1, {find}(title, '{SEP}') - 1) WHERE {find}(title, '{SEP}') > 0"
    )
    bind = op.get_bind()
    for row in bind.execute(
        sa.select(people.c.id, people.c.relation, people.c.residence, people.c.notes).where(
            sa.or_(people.c.relation.is_not(None), people.c.residence.is_not(None))
        )
    ):
        relation = row.relation and RELATION.get(row.relation.strip(), "other")
        residence = row.residence and RESIDENCE.get(row.residence.strip())
        notes = row.notes
        if row.residence and residence is None:  # a word of no known kind is kept, in the notes
            notes = "\n".join(filter(None, [notes, f"居住情况：{row.residence}"]))
        bind.execute(
            people.update()
            .where(people.c.id == row.id)
            .values(relation=relation, residence=residence, notes=notes)
        )
    op.execute(
        consents.update()
        .where(sa.or_(consents.c.purpose.like("%关爱%"), consents.c.purpose.like("%走失%")))
        .values(purpose="care")
    )
    op.execute(consents.update().where(consents.c.purpose != "care").values(purpose="door_access"))
    with op.batch_alter_table("face_consents", schema=None) as batch_op:
        batch_op.alter_column(
            "purpose", existing_type=sa.String(length=200), type_=sa.String(length=32)
        )


def downgrade() -> None:
    op.execute(f"UPDATE alarms SET title = title || '{SEP}' || subject WHERE subject IS NOT NULL")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("subject")
    words = {"head": "户主", "spouse": "配偶", "child": "子女", "grandchild": "孙子女"}
    words |= {"parent": "父母", "grandparent": "祖父母", "sibling": "兄弟姐妹", "other": "其他"}
    for key, word in words.items():
        op.execute(people.update().where(people.c.relation == key).values(relation=word))
    for word, key in RESIDENCE.items():
        op.execute(people.update().where(people.c.residence == key).values(residence=word))
    op.execute(
        consents.update().where(consents.c.purpose == "care").values(purpose="关爱与防走失识别")
    )
    op.execute(
        consents.update()
        .where(consents.c.purpose == "door_access")
        .values(purpose="小区门禁人脸通行")
    )
