"""The territory tree (street → community → grid → site → building → household) and its people."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import (
    Connection,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from pingan.db.base import Base, TimestampMixin
from pingan.i18n import N_


class NodeKind(enum.StrEnum):
    street = "street"
    community = "community"
    grid = "grid"
    site = "site"
    building = "building"
    household = "household"


# The one place that says what may stand under what.
PARENT_KIND: dict[NodeKind, NodeKind | None] = {
    NodeKind.street: None,
    NodeKind.community: NodeKind.street,
    NodeKind.grid: NodeKind.community,
    NodeKind.site: NodeKind.grid,
    NodeKind.building: NodeKind.site,
    NodeKind.household: NodeKind.building,
}


def _path_parts(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


def ancestor_path(path: str, kind: NodeKind) -> str | None:
    """The path of the node of a kind above (or at) a path: "/1/7/20/55/9/" → site "/1/7/20/55/"."""
    depth = list(PARENT_KIND).index(kind) + 1
    parts = _path_parts(path)
    return "/" + "/".join(parts[:depth]) + "/" if len(parts) >= depth else None


def ancestor_id(path: str, kind: NodeKind) -> int | None:
    depth = list(PARENT_KIND).index(kind)
    parts = _path_parts(path)
    return int(parts[depth]) if len(parts) > depth else None


KIND_LABEL: dict[NodeKind, str] = {
    NodeKind.street: N_("街道"),
    NodeKind.community: N_("社区"),
    NodeKind.grid: N_("网格"),
    NodeKind.site: N_("小区/单位"),
    NodeKind.building: N_("楼栋/院落"),
    NodeKind.household: N_("住户"),
}


class SiteType(enum.StrEnum):
    commercial_residential = "commercial_residential"  # 商住小区
    resettlement = "resettlement"  # 农民安置区
    old_courtyard = "old_courtyard"  # 老旧院落
    three_no = "three_no"  # 三无院落: no property management, no owners' committee, no funds
    work_unit = "work_unit"  # 单位
    business_building = "business_building"  # 商圈楼宇


SITE_TYPE_LABEL: dict[SiteType, str] = {
    SiteType.commercial_residential: N_("商住小区"),
    SiteType.resettlement: N_("农民安置区"),
    SiteType.old_courtyard: N_("老旧院落"),
    SiteType.three_no: N_("三无院落"),
    SiteType.work_unit: N_("单位"),
    SiteType.business_building: N_("商圈楼宇"),
}


class Management(enum.StrEnum):
    property_company = "property_company"  # 物业
    owners_committee = "owners_committee"  # 业委会
    self_management = "self_management"  # 自管会
    none = "none"  # 无 (三无院落)


MANAGEMENT_LABEL: dict[Management, str] = {
    Management.property_company: N_("物业"),
    Management.owners_committee: N_("业委会"),
    Management.self_management: N_("自管会"),
    Management.none: N_("无"),
}


class TerritoryNode(TimestampMixin, Base):
    __tablename__ = "territory_nodes"
    __audited__ = True
    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="parent_name"),
        Index("ix_territory_nodes_path", "path"),
        Index("ix_territory_nodes_kind", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[NodeKind] = mapped_column(Enum(NodeKind, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    # Materialised path of ids, "/1/7/42/": scope checks are a prefix match.
    path: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    boundary: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS-84
    site_type: Mapped[SiteType | None] = mapped_column(Enum(SiteType, native_enum=False, length=32))
    management: Mapped[Management | None] = mapped_column(
        Enum(Management, native_enum=False, length=32)
    )
    management_name: Mapped[str | None] = mapped_column(String(100))
    management_contact: Mapped[str | None] = mapped_column(String(50))
    floors: Mapped[int | None] = mapped_column(Integer)
    units: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)

    def audit_scope_node_id(self) -> int | None:
        return self.id


class PersonKind(enum.StrEnum):
    resident = "resident"
    staff = "staff"
    volunteer = "volunteer"


class Relation(enum.StrEnum):
    """To the householder (the groups of GB/T 4761 家庭关系代码)."""

    head = "head"
    spouse = "spouse"
    child = "child"
    grandchild = "grandchild"
    parent = "parent"
    grandparent = "grandparent"
    sibling = "sibling"
    other = "other"


RELATION_LABEL: dict[Relation, str] = {
    Relation.head: N_("户主"),
    Relation.spouse: N_("配偶"),
    Relation.child: N_("子女"),
    Relation.grandchild: N_("孙子女"),
    Relation.parent: N_("父母"),
    Relation.grandparent: N_("祖父母"),
    Relation.sibling: N_("兄弟姐妹"),
    Relation.other: N_("其他"),
}


class Residence(enum.StrEnum):
    registered = "registered"  # 户籍: household registration here
    permanent = "permanent"  # 常住: lives here, registered elsewhere
    tenant = "tenant"
    floating = "floating"  # 流动人口


RESIDENCE_LABEL: dict[Residence, str] = {
    Residence.registered: N_("户籍"),
    Residence.permanent: N_("常住"),
    Residence.tenant: N_("租住"),
    Residence.floating: N_("流动"),
}


class Person(TimestampMixin, Base):
    """A resident, staff member or volunteer, attached to one node (household, site, community)."""

    __tablename__ = "people"
    __audited__ = True
    __audit_mask__ = frozenset({"id_number", "phone"})
    __table_args__ = (UniqueConstraint("id_number", name="id_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[PersonKind] = mapped_column(
        Enum(PersonKind, native_enum=False, length=16), default=PersonKind.resident
    )
    node_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(1))  # M / F
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(18))  # 居民身份证号, sensitive
    phone: Mapped[str | None] = mapped_column(String(20))
    relation: Mapped[Relation | None] = mapped_column(Enum(Relation, native_enum=False, length=20))
    residence: Mapped[Residence | None] = mapped_column(
        Enum(Residence, native_enum=False, length=20)
    )
    resident_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident_groups.id", ondelete="SET NULL"), index=True
    )
    notes: Mapped[str | None] = mapped_column(Text)

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class ResidentGroup(TimestampMixin, Base):
    """居民小组: a group of residents of one community with its leader."""

    __tablename__ = "resident_groups"
    __audited__ = True
    __table_args__ = (UniqueConstraint("community_id", "name", name="community_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(50))
    leader_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL", use_alter=True)
    )

    def audit_scope_node_id(self) -> int | None:
        return self.community_id


@event.listens_for(TerritoryNode, "after_insert")
def _assign_path(
    _mapper: Mapper[TerritoryNode], connection: Connection, node: TerritoryNode
) -> None:
    """Set the materialised path once the id exists, in the same flush (one audit entry)."""
    parent_path: str | None = "/"
    if node.parent_id is not None:
        parent_path = connection.scalar(
            select(TerritoryNode.path).where(TerritoryNode.id == node.parent_id)
        )
    path = f"{parent_path}{node.id}/"
    connection.execute(update(TerritoryNode).where(TerritoryNode.id == node.id).values(path=path))
    set_committed_value(node, "path", path)
