"""Territory nodes, point lookup, people and resident groups."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from pingan import geojson
from pingan.alarms import service as alarm_service
from pingan.api_common import (
    DB,
    Actor,
    MapCRS,
    Page,
    Paging,
    StrictQuery,
    needs,
    page_of,
    request_lang,
)
from pingan.auth import audit
from pingan.auth.roles import Perm
from pingan.i18n import gettext
from pingan.masking import NumberOut
from pingan.territory import geo, service
from pingan.territory.geo import CRS
from pingan.territory.models import SITE_TYPE_LABEL, NodeKind, PersonKind, SiteType, TerritoryNode
from pingan.territory.schemas import (
    GroupCreate,
    GroupOut,
    GroupUpdate,
    LocateOut,
    NodeCreate,
    NodeOut,
    NodeUpdate,
    PersonCreate,
    PersonOut,
    PersonUpdate,
)

router = APIRouter(dependencies=[StrictQuery])


@router.get(
    "/territory/nodes",
    response_model=Page[NodeOut],
    tags=["territory"],
    openapi_extra=needs(Perm.territory_read),
)
def list_nodes(
    actor: Actor,
    session: DB,
    paging: Paging,
    kind: NodeKind | None = None,
    parent_id: int | None = None,
    within: Annotated[int | None, Query(description="Only nodes in this node's subtree")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name")] = None,
    site_type: SiteType | None = None,
) -> Page[NodeOut]:
    rows, total = service.get_all(
        session,
        actor=actor,
        kind=kind,
        parent_id=parent_id,
        within=within,
        q=q,
        site_type=site_type,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([NodeOut.model_validate(n) for n in rows], total, paging)


@router.post(
    "/territory/nodes",
    response_model=NodeOut,
    status_code=201,
    tags=["territory"],
    openapi_extra=needs(Perm.territory_write),
)
def create_node(data: NodeCreate, actor: Actor, session: DB) -> NodeOut:
    return NodeOut.model_validate(service.create(session, actor=actor, data=data))


@router.get(
    "/territory/locate",
    response_model=LocateOut,
    tags=["territory"],
    openapi_extra=needs(Perm.territory_read),
)
def locate(
    actor: Actor,
    session: DB,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: CRS = CRS.wgs84,
) -> LocateOut:
    """The community and grid a point lies in (WGS-84 unless crs says gcj02 or bd09)."""
    wlon, wlat, community, grid = service.locate(session, actor=actor, lon=lon, lat=lat, crs=crs)
    return LocateOut(
        lon=wlon,
        lat=wlat,
        community=NodeOut.model_validate(community) if community else None,
        grid=NodeOut.model_validate(grid) if grid else None,
    )


@router.get(
    "/territory/nodes/{node_id}",
    response_model=NodeOut,
    tags=["territory"],
    openapi_extra=needs(Perm.territory_read),
)
def get_node(node_id: int, actor: Actor, session: DB) -> NodeOut:
    return NodeOut.model_validate(
        service.get_visible_or_raise(session, actor=actor, node_id=node_id)
    )


@router.get(
    "/territory/nodes/{node_id}/ancestors",
    response_model=list[NodeOut],
    tags=["territory"],
    openapi_extra=needs(Perm.territory_read),
)
def get_ancestors(node_id: int, actor: Actor, session: DB) -> list[NodeOut]:
    node = service.get_visible_or_raise(session, actor=actor, node_id=node_id)
    return [
        NodeOut.model_validate(n)
        for n in service.ancestors(session, node=node)
        if actor.can(Perm.territory_read, n.path)
    ]


@router.patch(
    "/territory/nodes/{node_id}",
    response_model=NodeOut,
    tags=["territory"],
    openapi_extra=needs(Perm.territory_write),
)
def update_node(node_id: int, data: NodeUpdate, actor: Actor, session: DB) -> NodeOut:
    node = service.get_visible_or_raise(session, actor=actor, node_id=node_id)
    return NodeOut.model_validate(service.update_node(session, actor=actor, node=node, data=data))


@router.delete(
    "/territory/nodes/{node_id}",
    status_code=204,
    tags=["territory"],
    openapi_extra=needs(Perm.territory_write),
)
def delete_node(
    node_id: int,
    actor: Actor,
    session: DB,
    cascade: Annotated[bool, Query(description="Also delete everything under the node")] = False,
) -> None:
    node = service.get_visible_or_raise(session, actor=actor, node_id=node_id)
    service.delete(session, actor=actor, node=node, cascade=cascade)


# --- people ------------------------------------------------------------------------------------


def _node_path(session: Session, node_id: int) -> str | None:
    node = session.get(TerritoryNode, node_id)
    return node.path if node else None


@router.get(
    "/people",
    response_model=Page[PersonOut],
    tags=["people"],
    openapi_extra=needs(Perm.people_read),
)
def list_people(
    actor: Actor,
    session: DB,
    paging: Paging,
    within: Annotated[int | None, Query(description="Only people in this node's subtree")] = None,
    kind: PersonKind | None = None,
    q: Annotated[
        str | None, Query(max_length=50, description="Part of the name, or the phone")
    ] = None,
    resident_group_id: int | None = None,
) -> Page[PersonOut]:
    """People within your scope, phone and identity numbers masked. Each search is audited."""
    rows, total = service.get_all_people(
        session,
        actor=actor,
        within=within,
        kind=kind,
        q=q,
        resident_group_id=resident_group_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    scopes = actor.paths(Perm.people_read)
    audit.record(
        session,
        action="search",
        entity="people",
        scope_path=_node_path(session, within)
        if within
        else (scopes[0] if len(scopes) == 1 else None),
        after={
            "filters": {
                "within": within,
                "kind": kind,
                "q": q,
                "resident_group_id": resident_group_id,
            },
            "offset": paging.offset,
            "returned": [p.id for p in rows],
            "total": total,
        },
    )
    return page_of([PersonOut.model_validate(p) for p in rows], total, paging)


@router.post(
    "/people",
    response_model=PersonOut,
    status_code=201,
    tags=["people"],
    openapi_extra=needs(Perm.people_write),
)
def create_person(data: PersonCreate, actor: Actor, session: DB) -> PersonOut:
    return PersonOut.model_validate(service.create_person(session, actor=actor, data=data))


@router.get(
    "/people/{person_id}",
    response_model=PersonOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_read),
)
def get_person(person_id: int, actor: Actor, session: DB) -> PersonOut:
    """One person's record (phone and identity numbers masked, as everywhere). Every such read is
    written to the audit log."""
    person = service.get_person_visible_or_raise(session, actor=actor, person_id=person_id)
    audit.record(
        session,
        action="read",
        entity="people",
        entity_id=str(person.id),
        scope_path=_node_path(session, person.node_id),
    )
    return PersonOut.model_validate(person)


@router.get(
    "/people/{person_id}/phone",
    response_model=NumberOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_phone),
)
def person_phone(person_id: int, actor: Actor, session: DB) -> NumberOut:
    """A person's whole phone number (to call them). Each read is written to the audit log."""
    value = service.read_number(session, actor=actor, person_id=person_id, field="phone")
    return NumberOut(field="phone", value=value)


@router.get(
    "/people/{person_id}/id-number",
    response_model=NumberOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_id_number),
)
def person_id_number(person_id: int, actor: Actor, session: DB) -> NumberOut:
    """A person's whole identity-card number. Each read is written to the audit log."""
    value = service.read_number(session, actor=actor, person_id=person_id, field="id_number")
    return NumberOut(field="id_number", value=value)


@router.patch(
    "/people/{person_id}",
    response_model=PersonOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_write),
)
def update_person(person_id: int, data: PersonUpdate, actor: Actor, session: DB) -> PersonOut:
    person = service.get_person_visible_or_raise(
        session, actor=actor, person_id=person_id, perm=Perm.people_write
    )
    return PersonOut.model_validate(
        service.update_person(session, actor=actor, person=person, data=data)
    )


@router.delete(
    "/people/{person_id}", status_code=204, tags=["people"], openapi_extra=needs(Perm.people_write)
)
def delete_person(person_id: int, actor: Actor, session: DB) -> None:
    person = service.get_person_visible_or_raise(
        session, actor=actor, person_id=person_id, perm=Perm.people_write
    )
    service.delete_person(session, person=person)


@router.get(
    "/resident-groups",
    response_model=Page[GroupOut],
    tags=["people"],
    openapi_extra=needs(Perm.people_read),
)
def list_groups(
    actor: Actor, session: DB, paging: Paging, community_id: int | None = None
) -> Page[GroupOut]:
    rows, total = service.get_all_groups(
        session, actor=actor, community_id=community_id, limit=paging.limit, offset=paging.offset
    )
    return page_of([GroupOut.model_validate(g) for g in rows], total, paging)


@router.post(
    "/resident-groups",
    response_model=GroupOut,
    status_code=201,
    tags=["people"],
    openapi_extra=needs(Perm.people_write),
)
def create_group(data: GroupCreate, actor: Actor, session: DB) -> GroupOut:
    return GroupOut.model_validate(service.create_group(session, actor=actor, data=data))


@router.get(
    "/resident-groups/{group_id}",
    response_model=GroupOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_read),
)
def get_group(group_id: int, actor: Actor, session: DB) -> GroupOut:
    return GroupOut.model_validate(
        service.get_group_visible_or_raise(session, actor=actor, group_id=group_id)
    )


@router.patch(
    "/resident-groups/{group_id}",
    response_model=GroupOut,
    tags=["people"],
    openapi_extra=needs(Perm.people_write),
)
def update_group(group_id: int, data: GroupUpdate, actor: Actor, session: DB) -> GroupOut:
    group = service.get_group_visible_or_raise(
        session, actor=actor, group_id=group_id, perm=Perm.people_write
    )
    return GroupOut.model_validate(
        service.update_group(session, actor=actor, group=group, data=data)
    )


@router.delete(
    "/resident-groups/{group_id}",
    status_code=204,
    tags=["people"],
    openapi_extra=needs(Perm.people_write),
)
def delete_group(group_id: int, actor: Actor, session: DB) -> None:
    group = service.get_group_visible_or_raise(
        session, actor=actor, group_id=group_id, perm=Perm.people_write
    )
    service.delete_group(session, group=group)


# --- the map's layers of the territory ------------------------------------------------------------


@router.get("/map/boundaries", tags=["map"], openapi_extra=needs(Perm.territory_read))
def map_boundaries(actor: Actor, session: DB, crs: MapCRS = CRS.wgs84) -> dict[str, Any]:
    """Community and grid boundaries in your scope, as GeoJSON (WGS-84, or `crs`)."""
    return geojson.collection(
        [
            geojson.feature(
                geo.geometry_in(json.loads(n.boundary or "null"), crs),
                id=n.id,
                kind=n.kind.value,
                name=n.name,
            )
            for n in service.with_boundaries(session, actor=actor)
        ]
    )


@router.get("/map/sites", tags=["map"], openapi_extra=needs(Perm.territory_read))
def map_sites(
    request: Request, actor: Actor, session: DB, crs: MapCRS = CRS.wgs84
) -> dict[str, Any]:
    """Sites in your scope as GeoJSON points, with their open alarms (how many, top priority)."""
    lang = request_lang(request)
    open_alarms = alarm_service.open_by_site(session, actor=actor)
    features = []
    for n in service.sites_on_the_map(session, actor=actor):
        count, top = open_alarms.get(n.path, (0, 0))
        features.append(
            geojson.feature(
                geojson.point(*geo.from_wgs84(float(n.lon or 0), float(n.lat or 0), crs)),
                id=n.id,
                name=n.name,
                site_type=gettext(SITE_TYPE_LABEL[n.site_type], lang) if n.site_type else None,
                open_alarms=count,
                top_priority=top or None,
            )
        )
    return geojson.collection(features)
