"""Streets and back alleys (背街小巷) with their street chiefs (街长) and city-management officers
(城管专员): lines on the territory; a case within reach of one goes to them as well."""

from __future__ import annotations

import json
from collections.abc import Sequence

from shapely.geometry import shape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.errors import Invalid, NotFound
from pingan.i18n import N_, phrase
from pingan.incidents.models import StreetLine
from pingan.incidents.schemas import StreetIn, StreetOut
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind


def get_all(session: Session, *, actor: Principal) -> Sequence[StreetLine]:
    clauses = [actor.filter(StreetLine.path, Perm.incidents_read)]
    if actor.user_id is not None:
        clauses += [
            StreetLine.chief_user_id == actor.user_id,
            StreetLine.officer_user_id == actor.user_id,
        ]
    return session.scalars(select(StreetLine).where(or_(*clauses)).order_by(StreetLine.id)).all()


def get_visible_or_raise(session: Session, *, actor: Principal, street_id: int) -> StreetLine:
    line = session.get(StreetLine, street_id)
    what = phrase(N_("街巷 {n}"), n=street_id)
    if line is None:
        raise NotFound(what=what)
    actor.require(Perm.incidents_manage, line.path, what)
    return line


def _check_user(session: Session, user_id: int | None) -> None:
    if user_id is not None and auth_service.get(session, user_id=user_id) is None:
        raise NotFound(what=phrase(N_("用户 {n}"), n=user_id))


def _apply(session: Session, actor: Principal, line: StreetLine, data: StreetIn) -> None:
    node = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    if node.kind != NodeKind.street:
        raise Invalid("street_node", field="node_id")
    actor.require(Perm.incidents_manage, node.path, node.name)
    _check_user(session, data.chief_user_id)
    _check_user(session, data.officer_user_id)
    line.geometry = geo.parse_line(data.geometry, data.crs)
    drawn = shape(json.loads(line.geometry))
    line.communities = [
        c.id
        for c in territory_service.with_boundaries(session, actor=actor)
        if c.kind == NodeKind.community
        and c.path.startswith(node.path)
        and c.boundary
        and geo.load_geometry(c.boundary).intersects(drawn)
    ]
    line.name, line.alley = data.name.strip(), data.alley
    line.node_id, line.path = node.id, node.path
    line.chief_user_id, line.officer_user_id = data.chief_user_id, data.officer_user_id


def create(session: Session, *, actor: Principal, data: StreetIn) -> StreetLine:
    line = StreetLine()
    _apply(session, actor, line, data)
    session.add(line)
    session.flush()
    return line


def update(session: Session, *, actor: Principal, line: StreetLine, data: StreetIn) -> StreetLine:
    _apply(session, actor, line, data)
    session.flush()
    return line


def delete(session: Session, *, actor: Principal, line: StreetLine) -> None:
    session.delete(line)
    session.flush()


def outs(session: Session, lines: Sequence[StreetLine]) -> list[StreetOut]:
    ids = {u for line in lines for u in (line.chief_user_id, line.officer_user_id) if u}
    names = auth_service.display_names(session, user_ids=ids)
    return [
        StreetOut.model_validate(
            {
                **{c: getattr(line, c) for c in StreetOut.model_fields if hasattr(line, c)},
                "geometry": json.loads(line.geometry),
                "chief": names.get(line.chief_user_id or 0),
                "officer": names.get(line.officer_user_id or 0),
            }
        )
        for line in lines
    ]
