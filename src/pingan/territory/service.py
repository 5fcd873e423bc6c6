"""Territory nodes, people and resident groups. Flushes only; the caller commits."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.auth import audit
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.paging import paginate
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.i18n import N_, Phrase, phrase
from pingan.territory import geo, idcard
from pingan.territory.models import (
    KIND_LABEL,
    PARENT_KIND,
    NodeKind,
    Person,
    ResidentGroup,
    TerritoryNode,
    ancestor_path,
)
from pingan.territory.schemas import (
    GroupCreate,
    GroupUpdate,
    NodeCreate,
    NodeFields,
    NodeUpdate,
    PersonCreate,
    PersonUpdate,
)

BOUNDARY_KINDS = {NodeKind.street, NodeKind.community, NodeKind.grid, NodeKind.site}


def _what(node_id: int) -> Phrase:
    return phrase(N_("节点 {n}"), n=node_id)


def get(session: Session, *, node_id: int) -> TerritoryNode | None:
    return session.get(TerritoryNode, node_id)


def get_or_raise(session: Session, *, node_id: int) -> TerritoryNode:
    node = session.get(TerritoryNode, node_id)
    if node is None:
        raise NotFound(what=_what(node_id))
    return node


def get_visible_or_raise(
    session: Session, *, actor: Principal, node_id: int, perm: Perm = Perm.territory_read
) -> TerritoryNode:
    node = session.get(TerritoryNode, node_id)
    if node is None:
        raise NotFound(what=_what(node_id))
    actor.require(perm, node.path, _what(node_id))
    return node


def path_within(session: Session, *, actor: Principal, node_id: int | None) -> str | None:
    """The path of a node a list is narrowed to (`within`), or None for no narrowing; a node the
    actor does not see is a 404."""
    if not node_id:
        return None
    return get_visible_or_raise(session, actor=actor, node_id=node_id).path


def get_by_names(
    session: Session, *, names: Sequence[str], root_id: int | None = None
) -> TerritoryNode | None:
    """Follow a chain of names down the tree (community, site, building, …)."""
    parent_id = root_id
    node: TerritoryNode | None = None
    for name in names:
        stmt = select(TerritoryNode).where(TerritoryNode.name == name)
        stmt = stmt.where(
            TerritoryNode.parent_id == parent_id
            if parent_id is not None
            else TerritoryNode.parent_id.is_(None)
        )
        node = session.scalar(stmt)
        if node is None:
            return None
        parent_id = node.id
    return node


def get_all(
    session: Session,
    *,
    actor: Principal,
    kind: NodeKind | None = None,
    parent_id: int | None = None,
    within: int | None = None,
    q: str | None = None,
    site_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[TerritoryNode], int]:
    stmt = select(TerritoryNode).where(actor.filter(TerritoryNode.path, Perm.territory_read))
    if kind:
        stmt = stmt.where(TerritoryNode.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(TerritoryNode.parent_id == parent_id)
    if within is not None:
        root = get_visible_or_raise(session, actor=actor, node_id=within)
        stmt = stmt.where(TerritoryNode.path.startswith(root.path, autoescape=True))
    if q:
        stmt = stmt.where(TerritoryNode.name.contains(q, autoescape=True))
    if site_type:
        stmt = stmt.where(TerritoryNode.site_type == site_type)
    return paginate(session, stmt, order_by=TerritoryNode.path, limit=limit, offset=offset)


def names(session: Session, *, node_ids: Iterable[int]) -> dict[int, str]:
    """The names of nodes by id (for labels; the caller has the ids from records in scope)."""
    ids = list(set(node_ids))
    if not ids:
        return {}
    return dict(
        session.execute(
            select(TerritoryNode.id, TerritoryNode.name).where(TerritoryNode.id.in_(ids))
        ).all()
    )


def get_all_of_kinds(
    session: Session,
    *,
    actor: Principal,
    kinds: Sequence[NodeKind],
    perm: Perm = Perm.territory_read,
    limit: int = 2000,
) -> list[TerritoryNode]:
    """The nodes of some kinds where the actor holds a permission, in tree order (the pickers
    and filters of pages)."""
    return list(
        session.scalars(
            select(TerritoryNode)
            .where(TerritoryNode.kind.in_(list(kinds)), actor.filter(TerritoryNode.path, perm))
            .order_by(TerritoryNode.path)
            .limit(limit)
        )
    )


def with_boundaries(session: Session, *, actor: Principal) -> list[TerritoryNode]:
    """Communities and grids in scope that have a boundary (the map's areas)."""
    return [
        n
        for n in get_all_of_kinds(session, actor=actor, kinds=[NodeKind.community, NodeKind.grid])
        if n.boundary
    ]


def sites_on_the_map(session: Session, *, actor: Principal) -> list[TerritoryNode]:
    """Sites in scope that have a point on the map."""
    return [
        n
        for n in get_all_of_kinds(session, actor=actor, kinds=[NodeKind.site])
        if n.lon is not None and n.lat is not None
    ]


def tops(session: Session, *, actor: Principal) -> list[TerritoryNode]:
    """The outermost nodes a user may read: the roots of their scope."""
    if actor.system:
        return list(session.scalars(select(TerritoryNode).where(TerritoryNode.parent_id.is_(None))))
    paths = actor.paths(Perm.territory_read)
    outer = [p for p in paths if not any(p != o and p.startswith(o) for o in paths)]
    return list(session.scalars(select(TerritoryNode).where(TerritoryNode.path.in_(outer))))


def enclosing(session: Session, *, path: str, kind: NodeKind) -> TerritoryNode | None:
    """The node of a kind at or above a path (a resident's site, an alarm's community)."""
    wanted = ancestor_path(path, kind)
    return (
        session.scalar(select(TerritoryNode).where(TerritoryNode.path == wanted))
        if wanted
        else None
    )


def ancestors(session: Session, *, node: TerritoryNode) -> list[TerritoryNode]:
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    found = {
        n.id: n for n in session.scalars(select(TerritoryNode).where(TerritoryNode.id.in_(ids)))
    }
    return [found[i] for i in ids if i in found]


def _apply(node: TerritoryNode, data: NodeFields, kind: NodeKind) -> None:
    fields = data.model_dump(exclude_unset=True, exclude={"crs", "kind", "parent_id", "boundary"})
    if "lon" in fields or "lat" in fields:
        lon = fields.get("lon", node.lon)
        lat = fields.get("lat", node.lat)
        geo.check_position(lon, lat)
        if lon is not None and lat is not None:
            lon, lat = geo.to_wgs84(lon, lat, data.crs)
            fields["lon"], fields["lat"] = round(lon, 7), round(lat, 7)
    if "boundary" in data.model_fields_set:
        if data.boundary is not None and kind not in BOUNDARY_KINDS:
            raise Invalid(
                "bad_geometry",
                field="boundary",
                reason=phrase(N_("{kind}不设边界"), kind=KIND_LABEL[kind]),
            )
        node.boundary = geo.parse_boundary(data.boundary, data.crs) if data.boundary else None
    for key, value in fields.items():
        setattr(node, key, value)
    _check_kind_fields(node, kind)


def _check_kind_fields(node: TerritoryNode, kind: NodeKind) -> None:
    if kind == NodeKind.site:
        if node.site_type is None:
            raise Invalid(field="site_type", fields=N_("site_type（小区/单位必须注明类型）"))
    else:
        for attr in ("site_type", "management", "management_name", "management_contact"):
            if getattr(node, attr) is not None:
                raise Invalid(
                    field=attr, fields=phrase(N_("{field}（仅适用于小区/单位）"), field=attr)
                )
    if kind != NodeKind.building:
        for attr in ("floors", "units"):
            if getattr(node, attr) is not None:
                raise Invalid(field=attr, fields=phrase(N_("{field}（仅适用于楼栋）"), field=attr))


def _check_parent(
    session: Session, *, actor: Principal, kind: NodeKind, parent_id: int | None
) -> TerritoryNode | None:
    expected = PARENT_KIND[kind]
    if expected is None:
        if parent_id is not None:
            raise Invalid(
                "bad_parent", field="parent_id", kind=KIND_LABEL[kind], expected=N_("（无）")
            )
        if not actor.system:
            raise Forbidden(action=N_("创建街道"))
        return None
    if parent_id is None:
        raise Invalid(
            "bad_parent", field="parent_id", kind=KIND_LABEL[kind], expected=KIND_LABEL[expected]
        )
    parent = get_visible_or_raise(
        session, actor=actor, node_id=parent_id, perm=Perm.territory_write
    )
    if parent.kind != expected:
        raise Invalid(
            "bad_parent", field="parent_id", kind=KIND_LABEL[kind], expected=KIND_LABEL[expected]
        )
    return parent


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # The owner of the unit of work (request, CLI command) rolls back.
        raise Conflict(reason=_integrity_reason(exc)) from exc


def _integrity_reason(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "同一上级下已有同名记录，或编号重复"
    if "foreign key" in text:
        return "仍被其他记录引用（账号授权、人员等），请先移除"
    return str(exc.orig).splitlines()[0]


def create(session: Session, *, actor: Principal, data: NodeCreate) -> TerritoryNode:
    _check_parent(session, actor=actor, kind=data.kind, parent_id=data.parent_id)
    node = TerritoryNode(kind=data.kind, parent_id=data.parent_id, name=data.name)
    _apply(node, data, data.kind)
    session.add(node)
    _flush(session)
    return node


def update_node(
    session: Session, *, actor: Principal, node: TerritoryNode, data: NodeUpdate
) -> TerritoryNode:
    actor.require(Perm.territory_write, node.path, _what(node.id))
    if "parent_id" in data.model_fields_set and data.parent_id != node.parent_id:
        move(session, actor=actor, node=node, parent_id=data.parent_id)
    _apply(node, data, node.kind)
    _flush(session)
    return node


def move(session: Session, *, actor: Principal, node: TerritoryNode, parent_id: int | None) -> None:
    parent = _check_parent(session, actor=actor, kind=node.kind, parent_id=parent_id)
    if parent is not None and parent.path.startswith(node.path):
        raise Invalid(
            "bad_parent",
            field="parent_id",
            kind=KIND_LABEL[node.kind],
            expected=N_("不在自身之下的节点"),
        )
    old = node.path
    new = f"{parent.path if parent else '/'}{node.id}/"
    node.parent_id = parent_id
    _flush(session)
    # Descendants follow in one statement; the moved node's own change is in the audit log.
    session.execute(
        update(TerritoryNode)
        .where(TerritoryNode.path.startswith(old, autoescape=True))
        .values(path=literal(new, String) + func.substr(TerritoryNode.path, len(old) + 1))
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def delete(
    session: Session, *, actor: Principal, node: TerritoryNode, cascade: bool = False
) -> int:
    """Delete a node; with children or people under it only when cascade is asked for."""
    actor.require(Perm.territory_write, node.path, _what(node.id))
    subtree = session.scalars(
        select(TerritoryNode).where(TerritoryNode.path.startswith(node.path, autoescape=True))
    ).all()
    ids = [n.id for n in subtree]
    people = session.scalars(select(Person).where(Person.node_id.in_(ids))).all()
    groups = session.scalars(select(ResidentGroup).where(ResidentGroup.community_id.in_(ids))).all()
    dependents = len(subtree) - 1 + len(people) + len(groups)
    if dependents and not cascade:
        raise Conflict("has_children", field="cascade", what=node.name, count=dependents)
    for person in people:
        session.delete(person)
    for group in groups:
        session.delete(group)
    _flush(session)
    for n in sorted(subtree, key=lambda n: n.path.count("/"), reverse=True):
        session.delete(n)
        _flush(session)
    return len(subtree)


# --- point lookup ------------------------------------------------------------------------------

_index_lock = threading.Lock()
_index_cache: dict[str, tuple[tuple[Any, ...], geo.AreaIndex]] = {}


def _area_index(session: Session) -> geo.AreaIndex:
    """Boundaries in an STRtree, rebuilt when any boundary changed (cheap version probe)."""
    kinds = (NodeKind.community, NodeKind.grid)
    version = tuple(
        session.execute(
            select(
                func.count(TerritoryNode.id),
                func.max(TerritoryNode.updated_at),
                func.sum(TerritoryNode.id),
            ).where(TerritoryNode.kind.in_(kinds), TerritoryNode.boundary.is_not(None))
        ).one()
    )
    engine = session.get_bind().engine
    key = f"{id(engine)}:{engine.url}"
    with _index_lock:
        cached = _index_cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        rows = session.execute(
            select(TerritoryNode.id, TerritoryNode.kind, TerritoryNode.boundary).where(
                TerritoryNode.kind.in_(kinds), TerritoryNode.boundary.is_not(None)
            )
        )
        index = geo.AreaIndex(
            geo.Area(node_id=r.id, kind=r.kind, geometry=geo.load_geometry(r.boundary))
            for r in rows
        )
        _index_cache[key] = (version, index)
        return index


def area_of(session: Session, *, node: TerritoryNode) -> BaseGeometry | None:
    """The ground a node covers: its own boundary, else its nearest ancestor's; a street without
    one covers its communities'. None when nothing above or below it has a boundary."""
    for candidate in reversed(ancestors(session, node=node)):
        if candidate.boundary:
            return geo.load_geometry(candidate.boundary)
    parts = [
        geo.load_geometry(text or "")
        for text in session.scalars(
            select(TerritoryNode.boundary).where(
                TerritoryNode.kind == NodeKind.community,
                TerritoryNode.boundary.is_not(None),
                TerritoryNode.path.startswith(node.path, autoescape=True),
            )
        )
    ]
    return unary_union(parts) if parts else None


def locate(
    session: Session, *, actor: Principal, lon: float, lat: float, crs: geo.CRS = geo.CRS.wgs84
) -> tuple[float, float, TerritoryNode | None, TerritoryNode | None]:
    """The community and grid containing a point, among those the actor may see."""
    geo.check_position(lon, lat)
    lon, lat = geo.to_wgs84(lon, lat, crs)
    hits = _area_index(session).containing(lon, lat)
    grid = community = None
    for area in hits:
        node = session.get(TerritoryNode, area.node_id)
        if node is None or not actor.can(Perm.territory_read, node.path):
            continue
        if node.kind == NodeKind.grid and grid is None:
            grid = node
        elif node.kind == NodeKind.community and community is None:
            community = node
    if grid is not None and community is None:
        parent = session.get(TerritoryNode, grid.parent_id) if grid.parent_id else None
        if parent is not None and actor.can(Perm.territory_read, parent.path):
            community = parent
    return lon, lat, community, grid


def place_named(session: Session, *, text: str) -> TerritoryNode | None:
    """The site or building with a position whose name (or address) the text contains, the
    longest name first: an address given in words ("柳欣苑3栋楼道") placed on the map."""
    rows = session.scalars(
        select(TerritoryNode).where(
            TerritoryNode.kind.in_((NodeKind.site, NodeKind.building)),
            TerritoryNode.lon.is_not(None),
            TerritoryNode.lat.is_not(None),
        )
    ).all()
    best: tuple[int, TerritoryNode] | None = None
    for node in rows:
        for name in (node.name, node.address):
            if name and len(name) >= 2 and name in text and (best is None or len(name) > best[0]):
                best = (len(name), node)
    return best[1] if best else None


# --- people ------------------------------------------------------------------------------------


def _person_what(person_id: int) -> Phrase:
    return phrase(N_("人员 {n}"), n=person_id)


def get_person_visible_or_raise(
    session: Session, *, actor: Principal, person_id: int, perm: Perm = Perm.people_read
) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(what=_person_what(person_id))
    node = session.get(TerritoryNode, person.node_id)
    actor.require(perm, node.path if node else None, _person_what(person_id))
    return person


# Who may read which of a person's numbers whole.
NUMBER_PERMS: dict[str, Perm] = {"phone": Perm.people_phone, "id_number": Perm.people_id_number}


def people_names(session: Session, *, person_ids: Iterable[int]) -> dict[int, str]:
    """Names of people by id (labels beside records already in scope: a recognition, a
    watchlist entry)."""
    ids = list(set(person_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())


def get_person(session: Session, *, person_id: int) -> Person | None:
    return session.get(Person, person_id)


def household_of(session: Session, *, person: Person) -> tuple[list[TerritoryNode], list[Person]]:
    """Where a resident lives (street to household) and who is registered in the same
    household with them: what their own page shows them."""
    home = session.get(TerritoryNode, person.node_id)
    if home is None:
        return [], [person]
    trail = ancestors(session, node=home)
    if home.kind != NodeKind.household:
        return trail, [person]
    members = list(
        session.scalars(select(Person).where(Person.node_id == home.id).order_by(Person.id))
    )
    return trail, members


def read_number(session: Session, *, actor: Principal, person_id: int, field: str) -> str | None:
    """One of a person's numbers, whole: for a role that needs it, in its scope, audited."""
    person = get_person_visible_or_raise(
        session, actor=actor, person_id=person_id, perm=NUMBER_PERMS[field]
    )
    node = session.get(TerritoryNode, person.node_id)
    audit.record_number_read(
        session,
        entity="people",
        entity_id=person.id,
        field=field,
        scope_path=node.path if node else None,
    )
    value: str | None = getattr(person, field)
    return value


def get_all_people(
    session: Session,
    *,
    actor: Principal,
    within: int | None = None,
    kind: str | None = None,
    q: str | None = None,
    resident_group_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Person], int]:
    stmt = (
        select(Person)
        .join(TerritoryNode, TerritoryNode.id == Person.node_id)
        .where(actor.filter(TerritoryNode.path, Perm.people_read))
    )
    if within is not None:
        root = get_visible_or_raise(session, actor=actor, node_id=within)
        stmt = stmt.where(TerritoryNode.path.startswith(root.path, autoescape=True))
    if kind:
        stmt = stmt.where(Person.kind == kind)
    if q:
        stmt = stmt.where(Person.name.contains(q, autoescape=True) | (Person.phone == q))
    if resident_group_id is not None:
        stmt = stmt.where(Person.resident_group_id == resident_group_id)
    return paginate(session, stmt, order_by=Person.id, limit=limit, offset=offset)


def _check_person_node(session: Session, *, actor: Principal, node_id: int) -> TerritoryNode:
    node = get_visible_or_raise(session, actor=actor, node_id=node_id, perm=Perm.people_write)
    if node.kind not in (
        NodeKind.household,
        NodeKind.site,
        NodeKind.community,
        NodeKind.grid,
        NodeKind.street,
    ):
        raise Invalid(
            "bad_parent",
            field="node_id",
            kind=N_("人员"),
            expected=N_("住户、小区/单位、网格、社区或街道"),
        )
    return node


def _apply_person(
    session: Session, *, actor: Principal, person: Person, data: dict[str, Any]
) -> None:
    if data.get("id_number"):
        number = data["id_number"]
        if data.get("birth_date") is None:
            data["birth_date"] = idcard.birth_date(number)
        if data.get("gender") is None:
            data["gender"] = idcard.gender(number)
        if data["birth_date"] != idcard.birth_date(number):
            raise Invalid(field="birth_date", fields=N_("birth_date（与身份证号不符）"))
    if data.get("resident_group_id") is not None:
        group = session.get(ResidentGroup, data["resident_group_id"])
        node = session.get(TerritoryNode, data.get("node_id", person.node_id))
        if group is None or node is None or f"/{group.community_id}/" not in node.path:
            raise Invalid(field="resident_group_id", fields=N_("resident_group_id（不属于该社区）"))
    for key, value in data.items():
        setattr(person, key, value)


def create_person(session: Session, *, actor: Principal, data: PersonCreate) -> Person:
    _check_person_node(session, actor=actor, node_id=data.node_id)
    person = Person()
    _apply_person(session, actor=actor, person=person, data=data.model_dump())
    session.add(person)
    _flush(session)
    return person


def update_person(
    session: Session, *, actor: Principal, person: Person, data: PersonUpdate
) -> Person:
    fields = data.model_dump(exclude_unset=True)
    if "node_id" in fields and fields["node_id"] != person.node_id:
        _check_person_node(session, actor=actor, node_id=fields["node_id"])
    _apply_person(session, actor=actor, person=person, data=fields)
    _flush(session)
    return person


def delete_person(session: Session, *, person: Person) -> None:
    session.delete(person)
    _flush(session)


# --- resident groups ---------------------------------------------------------------------------


def get_group_visible_or_raise(
    session: Session, *, actor: Principal, group_id: int, perm: Perm = Perm.people_read
) -> ResidentGroup:
    group = session.get(ResidentGroup, group_id)
    if group is None:
        raise NotFound(what=phrase(N_("居民小组 {n}"), n=group_id))
    node = session.get(TerritoryNode, group.community_id)
    actor.require(perm, node.path if node else None, phrase(N_("居民小组 {n}"), n=group_id))
    return group


def get_all_groups(
    session: Session,
    *,
    actor: Principal,
    community_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[ResidentGroup], int]:
    stmt = (
        select(ResidentGroup)
        .join(TerritoryNode, TerritoryNode.id == ResidentGroup.community_id)
        .where(actor.filter(TerritoryNode.path, Perm.people_read))
    )
    if community_id is not None:
        stmt = stmt.where(ResidentGroup.community_id == community_id)
    return paginate(session, stmt, order_by=ResidentGroup.id, limit=limit, offset=offset)


def create_group(session: Session, *, actor: Principal, data: GroupCreate) -> ResidentGroup:
    community = get_visible_or_raise(
        session, actor=actor, node_id=data.community_id, perm=Perm.people_write
    )
    if community.kind != NodeKind.community:
        raise Invalid("bad_parent", field="community_id", kind=N_("居民小组"), expected=N_("社区"))
    group = ResidentGroup(community_id=data.community_id, name=data.name)
    session.add(group)
    _flush(session)
    if data.leader_person_id is not None:
        update_group(
            session,
            actor=actor,
            group=group,
            data=GroupUpdate(leader_person_id=data.leader_person_id),
        )
    return group


def update_group(
    session: Session, *, actor: Principal, group: ResidentGroup, data: GroupUpdate
) -> ResidentGroup:
    fields = data.model_dump(exclude_unset=True)
    if fields.get("leader_person_id") is not None:
        leader = get_person_visible_or_raise(
            session, actor=actor, person_id=fields["leader_person_id"]
        )
        node = session.get(TerritoryNode, leader.node_id)
        if node is None or f"/{group.community_id}/" not in node.path:
            raise Invalid(
                field="leader_person_id", fields=N_("leader_person_id（组长须是本社区居民）")
            )
    for key, value in fields.items():
        setattr(group, key, value)
    _flush(session)
    return group


def delete_group(session: Session, *, group: ResidentGroup) -> None:
    session.delete(group)
    _flush(session)
