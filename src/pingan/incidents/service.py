"""Grid incidents: reported through any channel into one place, routed by position to their grid,
community and street, moved through the workflow (flows.py), timed against the catalogue's limits,
rated by their reporter. Flushes only; the caller commits."""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import LineString, Point, shape
from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pingan import datafile
from pingan.alarms import flows as alarm_flows
from pingan.alarms import service as alarm_service
from pingan.alarms.notify import outbox
from pingan.alarms.notify.channels import AlarmMessage
from pingan.alarms.rules import RuleBook
from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, utcnow
from pingan.db.paging import paginate
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.i18n import N_, Phrase, phrase
from pingan.incidents import calendar, flows
from pingan.incidents.catalogue import Catalogue, Kind, shipped
from pingan.incidents.flows import Action
from pingan.incidents.models import (
    STATE_LABEL,
    TIMED_STATES,
    CatalogueVersion,
    Channel,
    Incident,
    IncidentEntry,
    IncidentPhoto,
    IncidentState,
    Level,
    Rating,
    StreetLine,
)
from pingan.incidents.schemas import PublicCase, ReportIn
from pingan.patrol import dispatch as patrol_dispatch
from pingan.patrol import service as patrol_service
from pingan.photos import Photo
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.models import TerritoryNode

DUPLICATE_M = 50.0  # the same kind within 50 m …
DUPLICATE_H = 72  # … and 72 hours may be the same problem
STREET_M = 30.0  # a case this close to a street goes to its chief too
REMIND_AT = 0.8  # the handler is reminded at 80 % of the limit
SYSTEM_ACTOR = "system"
REPORTER = Principal(user_id=None, name="reporter")  # a reporter acting by their case's key


def _what(incident_id: int) -> Phrase:
    return phrase(N_("事件 {n}"), n=incident_id)


# --- the catalogue ------------------------------------------------------------------------------

_catalogues = datafile.Versions(Catalogue, CatalogueVersion, shipped)


def catalogue(session: Session) -> Catalogue:
    """The catalogue in force: the street's latest edit, else the one pingan ships."""
    return _catalogues.current(session)


def catalogue_version(session: Session) -> int:
    """0 for the shipped catalogue, else the number of the street's latest edit."""
    return _catalogues.number(session)


def kind_or_raise(session: Session, code: str, field: str = "kind") -> Kind:
    found = catalogue(session).kind(code)
    if found is None:
        raise Invalid("unknown_kind", field=field, kind=code)
    return found[1]


def _street_wide(actor: Principal, perm: Perm) -> bool:
    """Bound at the top of the territory (a street office) with this permission."""
    return actor.system or any(p.count("/") == 2 for p in actor.paths(perm))


def save_catalogue(
    session: Session, *, actor: Principal, data: Catalogue, note: str | None = None
) -> CatalogueVersion:
    """A street admin's new catalogue, kept as a version. A kind that open cases still have
    cannot be taken out (close or re-file them first)."""
    if not _street_wide(actor, Perm.incidents_manage):
        raise Forbidden(action=Perm.incidents_manage.value)
    kept = {f"{c.code}.{k.code}" for c in data.categories for k in c.kinds}
    in_use = session.scalars(
        select(Incident.kind)
        .where(Incident.is_open.is_(True), Incident.kind.not_in(kept or {""}))
        .distinct()
    ).all()
    if in_use:
        raise Conflict("catalogue_in_use", field="categories", kinds=tuple(sorted(in_use)))
    row: CatalogueVersion = _catalogues.add(
        session, data=data, note=note, actor=actor.actor, at=utcnow()
    )
    return row


# --- where a case lies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    community: TerritoryNode
    grid: TerritoryNode | None
    street: StreetLine | None


def _metres_from(
    lon0: float, lat0: float, coords: Iterable[Sequence[float]]
) -> list[tuple[float, float]]:
    """WGS-84 points as metres east and north of (lon0, lat0): good to a metre across a district."""
    k = math.radians(1) * 6_371_000
    c = math.cos(math.radians(lat0))
    return [((x - lon0) * k * c, (y - lat0) * k) for x, y, *_ in coords]


def street_near(session: Session, *, lon: float, lat: float) -> StreetLine | None:
    """The nearest street line within STREET_M of a point."""
    pad = STREET_M / 111_000 * 2
    best: tuple[float, StreetLine] | None = None
    for line in session.scalars(select(StreetLine)):
        geom = shape(json.loads(line.geometry))
        minx, miny, maxx, maxy = geom.bounds
        if not (minx - pad <= lon <= maxx + pad and miny - pad <= lat <= maxy + pad):
            continue
        metres = LineString(_metres_from(lon, lat, geom.coords)).distance(Point(0, 0))
        if metres <= STREET_M and (best is None or metres < best[0]):
            best = (metres, line)
    return best[1] if best else None


def place(
    session: Session,
    *,
    lon: float | None,
    lat: float | None,
    address: str | None,
    crs: geo.CRS = geo.CRS.wgs84,
    field: str = "lat",
) -> Place:
    """The grid and community whose boundary holds the position (or the place the address
    names); a position outside the territory is refused with the reason."""
    if lon is None or lat is None:
        named = territory_service.place_named(session, text=address or "") if address else None
        if named is None or named.lon is None or named.lat is None:
            raise Invalid("incident_position", field=field)
        lon, lat, crs = named.lon, named.lat, geo.CRS.wgs84
    lon, lat, community, grid = territory_service.locate(
        session, actor=SYSTEM, lon=lon, lat=lat, crs=crs
    )
    if community is None:
        raise Invalid("outside_territory", field=field, lon=round(lon, 6), lat=round(lat, 6))
    return Place(lon, lat, community, grid, street_near(session, lon=lon, lat=lat))


def duplicates(
    session: Session,
    *,
    kind: str,
    lon: float,
    lat: float,
    at: datetime | None = None,
    exclude: int | None = None,
) -> list[Incident]:
    """Cases of the same kind within 50 m reported in the 72 hours before `at`, still open."""
    at = at or utcnow()
    pad = DUPLICATE_M / 111_000 * 2
    rows = session.scalars(
        select(Incident)
        .where(
            Incident.kind == kind,
            Incident.is_open.is_(True),
            Incident.reported_at >= at - timedelta(hours=DUPLICATE_H),
            Incident.reported_at <= at,
            Incident.lon.between(lon - pad, lon + pad),
            Incident.lat.between(lat - pad, lat + pad),
        )
        .order_by(Incident.id)
    ).all()
    return [
        r for r in rows if r.id != exclude and geo.distance_m(lon, lat, r.lon, r.lat) <= DUPLICATE_M
    ]


def duplicates_seen(session: Session, *, actor: Principal, incident: Incident) -> list[Incident]:
    """The possible duplicates of an open case that the actor sees (for the officer to merge)."""
    if not incident.is_open:
        return []
    found = duplicates(
        session,
        kind=incident.kind,
        lon=incident.lon,
        lat=incident.lat,
        at=incident.reported_at,
        exclude=incident.id,
    )
    return [d for d in found if sees(session, actor, d)]


# --- seeing cases -------------------------------------------------------------------------------


def _own_streets(session: Session, actor: Principal) -> list[int]:
    if actor.user_id is None or not actor.paths(Perm.incidents_streets):
        return []
    return list(
        session.scalars(
            select(StreetLine.id).where(
                or_(
                    StreetLine.chief_user_id == actor.user_id,
                    StreetLine.officer_user_id == actor.user_id,
                )
            )
        )
    )


def scope_clause(session: Session, actor: Principal) -> ColumnElement[bool]:
    """Cases in the actor's scope, those they reported or hold, and those along their streets."""
    if actor.system:
        return Incident.id.is_not(None)
    clauses: list[ColumnElement[bool]] = [actor.filter(Incident.path, Perm.incidents_read)]
    if actor.user_id is not None:
        clauses += [
            Incident.reporter_user_id == actor.user_id,
            Incident.assignee_user_id == actor.user_id,
        ]
    streets = _own_streets(session, actor)
    if streets:
        clauses.append(Incident.street_line_id.in_(streets))
    return or_(*clauses) if clauses else false()


def sees(session: Session, actor: Principal, incident: Incident) -> bool:
    if actor.can(Perm.incidents_read, incident.path):
        return True
    uid = actor.user_id
    if uid is not None and uid in (incident.reporter_user_id, incident.assignee_user_id):
        return True
    return incident.street_line_id is not None and incident.street_line_id in _own_streets(
        session, actor
    )


def get(session: Session, *, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id)


def get_visible_or_raise(session: Session, *, actor: Principal, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or not sees(session, actor, incident):
        raise NotFound(what=_what(incident_id))
    return incident


def get_by_token(session: Session, *, token: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.token == token))


def may(session: Session, actor: Principal, incident: Incident, action: Action) -> bool:
    """Whether the actor may take this action on this case (its state aside)."""
    if actor.system:
        return True
    if action in flows.RATING_MOVES:
        return False
    if (
        action in flows.HANDLER_ACTIONS
        and actor.user_id is not None
        and incident.assignee_user_id == actor.user_id
    ):
        return True
    if action == Action.note:
        return sees(session, actor, incident)
    return actor.can(flows.NEEDS[action], incident.path)


def actions_for(session: Session, actor: Principal, incident: Incident) -> list[Action]:
    """What the actor may do now: the state's moves they are allowed, an extension asked for
    only when none waits, granted or refused only when one does."""
    waiting = incident.extension_asked is not None
    skip = {Action.extend_ask} if waiting else {Action.extend_grant, Action.extend_refuse}
    return [
        a
        for a in flows.allowed(incident.state)
        if a not in skip and may(session, actor, incident, a)
    ]


@dataclass(frozen=True)
class Filters:
    view: str | None = None  # new | overdue | verify | mine | open
    state: IncidentState | None = None
    category: str | None = None
    kind: str | None = None
    channel: Channel | None = None
    within_path: str | None = None
    assignee_user_id: int | None = None
    assignee: str | None = None  # a handler by the name the case shows
    street_line_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def get_all(
    session: Session,
    *,
    actor: Principal,
    filters: Filters = Filters(),
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Incident], int]:
    """Cases the actor sees, newest first; the desk's views put the oldest due first."""
    stmt = select(Incident).where(scope_clause(session, actor))
    f = filters
    if f.view == "new":
        stmt = stmt.where(Incident.state == IncidentState.reported)
    elif f.view == "overdue":
        stmt = stmt.where(Incident.is_open.is_(True), Incident.overdue_at.is_not(None))
    elif f.view == "verify":
        stmt = stmt.where(Incident.state == IncidentState.done)
    elif f.view == "open":
        stmt = stmt.where(Incident.is_open.is_(True))
    elif f.view == "mine":
        stmt = stmt.where(
            or_(
                Incident.assignee_user_id == actor.user_id,
                Incident.reporter_user_id == actor.user_id,
            )
        )
    if f.state:
        stmt = stmt.where(Incident.state == f.state)
    if f.category:
        stmt = stmt.where(Incident.category == f.category)
    if f.kind:
        stmt = stmt.where(Incident.kind == f.kind)
    if f.channel:
        stmt = stmt.where(Incident.channel == f.channel)
    if f.within_path:
        stmt = stmt.where(Incident.path.startswith(f.within_path, autoescape=True))
    if f.assignee_user_id is not None:
        stmt = stmt.where(Incident.assignee_user_id == f.assignee_user_id)
    if f.assignee:
        stmt = stmt.where(Incident.assignee == f.assignee)
    if f.street_line_id is not None:
        stmt = stmt.where(Incident.street_line_id == f.street_line_id)
    if f.since:
        stmt = stmt.where(Incident.reported_at >= f.since)
    if f.until:
        stmt = stmt.where(Incident.reported_at < f.until)
    order: tuple[Any, ...] = (Incident.id.desc(),)
    if f.view in ("overdue", "open"):
        order = (Incident.level.desc(), Incident.due_at.asc(), Incident.id.asc())
    elif f.view in ("new", "verify"):
        order = (Incident.priority.asc(), Incident.id.asc())
    return paginate(session, stmt, order_by=order, limit=limit, offset=offset)


def handler_names(session: Session, *, actor: Principal) -> list[str]:
    """The handlers of open cases the actor sees, by the names the cases show (the desk's filter)."""
    names = session.scalars(
        select(Incident.assignee)
        .where(
            scope_clause(session, actor),
            Incident.is_open.is_(True),
            Incident.assignee.is_not(None),
        )
        .distinct()
    ).all()
    return sorted(n for n in names if n)


def timeline(session: Session, *, incident: Incident) -> list[tuple[IncidentEntry, list[int]]]:
    entries = session.scalars(
        select(IncidentEntry)
        .where(IncidentEntry.incident_id == incident.id)
        .order_by(IncidentEntry.id)
    ).all()
    photos: dict[int | None, list[int]] = {}
    for photo_id, entry_id in session.execute(
        select(IncidentPhoto.id, IncidentPhoto.entry_id)
        .where(IncidentPhoto.incident_id == incident.id)
        .order_by(IncidentPhoto.id)
    ):
        photos.setdefault(entry_id, []).append(photo_id)
    return [(e, photos.get(e.id, [])) for e in entries]


def photo_count(session: Session, *, incident_ids: Iterable[int]) -> dict[int, int]:
    ids = list(incident_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(IncidentPhoto.incident_id, func.count(IncidentPhoto.id))
        .where(IncidentPhoto.incident_id.in_(ids))
        .group_by(IncidentPhoto.incident_id)
    )
    return {int(i): int(n) for i, n in rows}


def photo_or_raise(session: Session, *, incident: Incident, photo_id: int) -> IncidentPhoto:
    photo = session.get(IncidentPhoto, photo_id)
    if photo is None or photo.incident_id != incident.id:
        raise NotFound(what=phrase(N_("照片 {n}"), n=photo_id))
    return photo


def photo(session: Session, *, photo_id: int) -> IncidentPhoto:
    found = session.get(IncidentPhoto, photo_id)
    if found is None:
        raise NotFound(what=phrase(N_("照片 {n}"), n=photo_id))
    return found


def public_photos(session: Session, *, incident: Incident) -> list[int]:
    """The photos a reporter's own page shows: those of their report, and the after-photos of
    the work on the case it follows (never another reporter's photos of a merged report)."""
    own = [p for _e, ps in timeline(session, incident=incident) for p in ps]
    outcome = outcome_of(session, incident=incident)
    if outcome.id == incident.id:
        return own
    after = [
        p
        for e, ps in timeline(session, incident=outcome)
        if e.action == Action.done.value
        for p in ps
    ]
    return [*own, *after]


def public_case(session: Session, *, incident: Incident) -> PublicCase:
    """A case as its reporter sees it: its steps (no names, no notes) and photos; a report merged
    into another follows that one's outcome."""
    outcome = outcome_of(session, incident=incident)
    steps = [
        {"at": e.at.isoformat(), "action": e.action, "state": e.to_state}
        for e, _p in timeline(session, incident=outcome)
        if e.action != Action.note.value
    ]
    return PublicCase(
        id=incident.id,
        kind=incident.kind,
        state=outcome.state if incident.state == IncidentState.merged else incident.state,
        description=incident.description,
        address=incident.address,
        reported_at=incident.reported_at,
        accepted_at=outcome.accepted_at,
        due_at=outcome.due_at,
        done_at=outcome.done_at,
        closed_at=outcome.closed_at,
        merged_into_id=incident.merged_into_id,
        reject_reason=incident.reject_reason,
        rating=incident.rating,
        may_rate=incident.state == IncidentState.closed and incident.rating is None,
        may_verify=incident.state == IncidentState.done,
        steps=steps,
        photos=public_photos(session, incident=incident),
    )


def for_alarm(session: Session, *, actor: Principal, alarm_id: int) -> list[Incident]:
    """The cases an alarm turned into, that the actor sees."""
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.alarm_id == alarm_id, scope_clause(session, actor))
            .order_by(Incident.id)
        )
    )


# --- reporting ----------------------------------------------------------------------------------


def _entry(
    session: Session,
    incident: Incident,
    action: str,
    *,
    actor: Principal | None = None,
    from_state: IncidentState | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> IncidentEntry:
    entry = IncidentEntry(
        incident_id=incident.id,
        at=at or utcnow(),
        actor=actor.actor if actor else SYSTEM_ACTOR,
        actor_user_id=actor.user_id if actor else None,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=incident.state.value,
        note=note,
        data=data,
    )
    session.add(entry)
    session.flush()
    return entry


def _add_photos(
    session: Session, incident: Incident, entry: IncidentEntry, photos: Sequence[Photo], stage: str
) -> None:
    for photo in photos:
        session.add(
            IncidentPhoto(
                incident_id=incident.id,
                entry_id=entry.id,
                stage=stage,
                data=photo.jpeg,
                width=photo.width,
                height=photo.height,
                created_at=entry.at,
            )
        )


def _link_alarm(session: Session, *, actor: Principal, alarm_id: int) -> int:
    """The alarm a case comes from: one the actor reads, or one they were sent to."""
    alarm = alarm_service.get(session, alarm_id=alarm_id)
    if alarm is None or not (
        actor.can(Perm.alarms_read, alarm.path)
        or patrol_dispatch.has_task(session, actor=actor, alarm_id=alarm_id)
    ):
        raise NotFound(what=phrase(N_("报警 {n}"), n=alarm_id))
    return alarm.id


def channel_for(actor: Principal, data: ReportIn) -> Channel:
    """The channel a report came by, from what it carries and who sends it."""
    if data.alarm_id is not None:
        return Channel.alarm
    if data.checkpoint_id is not None:
        return Channel.patrol_exception
    if data.reporter_phone and actor.holds(Perm.incidents_dispatch):
        return Channel.hotline  # the centre took a call
    if actor.holds(Perm.incidents_verify):
        return Channel.grid
    if actor.holds(Perm.patrol_run) and not actor.holds(Perm.incidents_read):
        return Channel.patrol
    return Channel.staff


def report(
    session: Session,
    *,
    actor: Principal,
    data: ReportIn,
    channel: Channel,
    photos: Sequence[Photo] = (),
    contact: dict[str, Any] | None = None,
    client_id: int | None = None,
    media_url: str | None = None,
    at: datetime | None = None,
) -> Incident:
    """One incident from any channel: checked, routed by its position, on its timeline."""
    kind = kind_or_raise(session, data.kind)
    try:
        attributes = kind.attributes(data.attributes)
    except ValueError as exc:
        raise Invalid("bad_attribute", field="attributes", reason=str(exc)) from exc
    if data.checkpoint_id is not None:
        checkpoint, _route = patrol_service.checkpoint_visible_or_raise(
            session, actor=actor, checkpoint_id=data.checkpoint_id
        )
        if data.lon is None and data.lat is None:  # where the checkpoint is
            data = data.model_copy(update={"lon": checkpoint.lon, "lat": checkpoint.lat})
    where = place(session, lon=data.lon, lat=data.lat, address=data.address, crs=data.crs)
    alarm_id = _link_alarm(session, actor=actor, alarm_id=data.alarm_id) if data.alarm_id else None
    now = at or utcnow()
    node = where.grid or where.community
    incident = Incident(
        token=secrets.token_urlsafe(16),
        kind=data.kind,
        category=data.kind.split(".", 1)[0],
        priority=kind.priority,
        handler=kind.handler,
        state=IncidentState.reported,
        is_open=True,
        channel=channel,
        description=data.description.strip(),
        attributes=attributes or None,
        address=data.address,
        lon=where.lon,
        lat=where.lat,
        node_id=node.id,
        path=node.path,
        community_id=where.community.id,
        grid_id=where.grid.id if where.grid else None,
        street_line_id=where.street.id if where.street else None,
        level=Level.normal,
        reporter_user_id=actor.user_id,
        reporter_name=data.reporter_name or (actor.name if actor.user_id else None),
        reporter_phone=data.reporter_phone,
        notify_sms=bool(data.notify_sms and data.reporter_phone),
        contact=contact,
        open311_client_id=client_id,
        media_url=media_url,
        alarm_id=alarm_id,
        checkpoint_id=data.checkpoint_id,
        reported_at=now,
        updated_at=now,
        reopened=0,
        supervised=False,
    )
    session.add(incident)
    session.flush()
    entry = _entry(
        session, incident, "reported", actor=actor, data={"channel": channel.value}, at=now
    )
    _add_photos(session, incident, entry, photos, "before")
    if alarm_id is not None:
        alarm = alarm_service.get(session, alarm_id=alarm_id)
        assert alarm is not None
        alarm_service.record(
            session, alarm=alarm, action="incident", actor=actor, note=str(incident.id), at=now
        )
    session.flush()
    return incident


# --- moving a case ------------------------------------------------------------------------------


def _due(session: Session, incident: Incident, start: datetime) -> None:
    """The time limit from acceptance, and the reminder at 80 % of it."""
    found = catalogue(session).kind(incident.kind)
    kind = found[1] if found else kind_or_raise(session, incident.kind)
    incident.due_at = kind.limit.due(start)
    incident.remind_at = start + (incident.due_at - start) * REMIND_AT
    incident.reminded_at = None
    incident.handler = kind.handler


def _reason(action: Action, reason: str | None) -> str:
    choices = flows.REASONS[action]
    if reason not in choices:
        raise Invalid(
            "incident_reason",
            field="reason",
            choices=tuple(flows.REASON_LABEL[c] for c in choices),
        )
    return reason


def _may_handle(session: Session, user: Any, incident: Incident) -> bool:
    """An account that can work on the case: holding incidents:work over it, or bound somewhere
    inside its community (a site's manager), or the chief or officer of its street."""
    principal = auth_service.principal_for(session, user=user)
    if principal.can(Perm.incidents_work, incident.path):
        return True
    community = territory_service.get(session, node_id=incident.community_id)
    inside = community is not None and any(
        p.startswith(community.path) for p in principal.paths(Perm.incidents_work)
    )
    return inside or (
        incident.street_line_id is not None
        and incident.street_line_id in _own_streets(session, principal)
    )


def handlers_for(session: Session, *, incident: Incident) -> list[dict[str, Any]]:
    """Accounts the case may be assigned to: those who handle cases in its community (a site's
    manager, the grid officer, the police liaison …) and its street's officer and chief."""
    community = territory_service.get(session, node_id=incident.community_id)
    found = auth_service.holders(
        session, perm=Perm.incidents_work, path=community.path if community else incident.path
    )
    out = [
        {"id": user.id, "name": user.display_name, "role": role.value, "place": place}
        for user, role, place in found
    ]
    line = session.get(StreetLine, incident.street_line_id) if incident.street_line_id else None
    seen = {o["id"] for o in out}
    for user_id in (line.officer_user_id, line.chief_user_id) if line else ():
        user = auth_service.get(session, user_id=user_id) if user_id else None
        if user is not None and user.id not in seen and line is not None:
            grants = auth_service.principal_for(session, user=user).grants
            role = grants[0].role.value if grants else ""
            out.append({"id": user.id, "name": user.display_name, "role": role, "place": line.name})
            seen.add(user.id)
    return out


def _assign(session: Session, incident: Incident, user_id: int | None, name: str | None) -> None:
    if user_id is None and not (name and name.strip()):
        raise Invalid("incident_assignee", field="assignee_user_id")
    if user_id is not None:
        user = auth_service.get(session, user_id=user_id)
        if user is None or not user.is_active or not _may_handle(session, user, incident):
            raise NotFound(what=phrase(N_("用户 {n}"), n=user_id))
        incident.assignee_user_id = user.id
        incident.assignee = user.display_name
    else:
        incident.assignee_user_id = None
        incident.assignee = (name or "").strip()


def _close_links(session: Session, incident: Incident, *, at: datetime) -> None:
    """A closed case resolves the alarm it came from, with a link back to it."""
    if incident.alarm_id is None:
        return
    alarm = alarm_service.get(session, alarm_id=incident.alarm_id)
    if alarm is None:
        return
    note = str(incident.id)
    if alarm_flows.Action.resolve in alarm_flows.allowed(
        alarm.state, acknowledged=alarm.acknowledged
    ):
        alarm_service.act(
            session, actor=SYSTEM, alarm=alarm, action=alarm_flows.Action.resolve, note=note, at=at
        )
    alarm_service.record(
        session, alarm=alarm, action="incident_closed", actor=SYSTEM, note=note, at=at
    )


def act(
    session: Session,
    *,
    actor: Principal,
    incident: Incident,
    action: Action,
    note: str | None = None,
    reason: str | None = None,
    assignee_user_id: int | None = None,
    assignee: str | None = None,
    target_id: int | None = None,
    days: int | None = None,
    photos: Sequence[Photo] = (),
    expected_version: int | None = None,
    by_reporter: bool = False,
    at: datetime | None = None,
    told: bool = True,
) -> Incident:
    """Move a case (or take a step on it). A move the state does not allow, or a stale view, is a
    409 and nothing is written. `by_reporter`: the reporter's own check on site (their token was
    checked by the caller). `told`: False for a move recorded after the fact (the demo's past),
    which nobody is told of now."""
    reporter_check = by_reporter and action in (Action.verify, Action.not_fixed)
    if not reporter_check and not may(session, actor, incident, action):
        if not sees(session, actor, incident):
            raise NotFound(what=_what(incident.id))
        raise Forbidden(action=flows.NEEDS[action].value)
    if expected_version is not None and expected_version != incident.version:
        raise Conflict("incident_changed", field="version", version=incident.version)
    target = flows.next_state(incident.state, action)
    if target is None:
        raise Conflict(
            "incident_move",
            field="action",
            action=flows.ACTION_LABEL[action],
            state=STATE_LABEL[incident.state],
        )
    now = at or utcnow()
    before = incident.state
    data: dict[str, Any] = {}
    merged_into: Incident | None = None
    if action == Action.reject:
        incident.reject_reason = data["reason"] = _reason(action, reason)
    elif action == Action.send_back:
        data["reason"] = _reason(action, reason)
        incident.assignee_user_id = incident.assignee = None
    elif action == Action.merge:
        merged_into = _merge_target(session, actor, incident, target_id)
        incident.merged_into_id = data["into"] = merged_into.id
    elif action == Action.assign:
        _assign(session, incident, assignee_user_id, assignee)
        incident.assigned_at = now
        data["assignee"] = incident.assignee
        if incident.assignee_user_id is not None:
            data["assignee_user_id"] = incident.assignee_user_id
    elif action == Action.accept:
        incident.accepted_at = now
        _due(session, incident, now)
    elif action == Action.done:
        if not photos:
            raise Invalid("incident_after_photo", field="photos")
        incident.done_at = now
        incident.on_time = incident.due_at is None or now <= incident.due_at
    elif action == Action.verify:
        incident.verified_at = now
    elif action == Action.not_fixed:
        incident.done_at = incident.on_time = None
    elif action == Action.extend_ask:
        if not (note and note.strip()) or days is None:
            raise Invalid("incident_extension", field="days")
        incident.extension_asked, incident.extension_days = note.strip(), days
        data["days"] = days
    elif action in (Action.extend_grant, Action.extend_refuse):
        if incident.extension_asked is None:
            raise Conflict("incident_no_extension", field="action")
        if action == Action.extend_grant:
            granted = days or incident.extension_days or 1
            assert incident.due_at is not None
            incident.due_at = calendar.add_working_days(incident.due_at, granted)
            start = incident.accepted_at or now
            incident.remind_at = start + (incident.due_at - start) * REMIND_AT
            if incident.due_at > now:
                incident.overdue_at = None
                incident.reminded_at = None
                incident.level = Level.street if incident.supervised else Level.normal
            data["days"] = granted
        incident.extension_asked = incident.extension_days = None
    elif action == Action.supervise:
        incident.supervised = True
        incident.level = Level.street
    incident.state = target
    if target in (IncidentState.closed, IncidentState.rejected, IncidentState.merged):
        incident.is_open = False
        incident.closed_at = now
    incident.updated_at = now
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("incident_changed", field="version", version="?") from exc
    entry = _entry(
        session,
        incident,
        action.value,
        actor=actor,
        from_state=before,
        note=note,
        data=data or None,
        at=now,
    )
    if photos:
        _add_photos(
            session, incident, entry, photos, "after" if action == Action.done else "before"
        )
    if merged_into is not None:
        _entry(session, merged_into, "merged_in", actor=actor, data={"from": incident.id}, at=now)
    if target == IncidentState.closed:
        _close_links(session, incident, at=now)
    if target != before:
        _follow(session, incident, at=now)
    if told:
        tell(session, incident=incident, entry=entry)
    session.flush()
    return incident


def _merge_target(
    session: Session, actor: Principal, incident: Incident, target_id: int | None
) -> Incident:
    if target_id is None or target_id == incident.id:
        raise Invalid("incident_merge", field="target_id")
    other = get_visible_or_raise(session, actor=actor, incident_id=target_id)
    if not other.is_open or other.kind != incident.kind:
        raise Invalid("incident_merge", field="target_id")
    return other


def merged_reporters(session: Session, *, incident: Incident) -> list[Incident]:
    """The reports merged into a case: their reporters are told of its outcome too."""
    return list(
        session.scalars(
            select(Incident).where(Incident.merged_into_id == incident.id).order_by(Incident.id)
        )
    )


def outcome_of(session: Session, *, incident: Incident) -> Incident:
    """The case whose outcome a report shares: itself, or the one it was merged into."""
    seen = {incident.id}
    while incident.merged_into_id is not None and incident.merged_into_id not in seen:
        target = session.get(Incident, incident.merged_into_id)
        if target is None:
            break
        seen.add(target.id)
        incident = target
    return incident


def rate(
    session: Session,
    *,
    incident: Incident,
    rating: Rating,
    fixed: bool = True,
    note: str | None = None,
    actor: Principal | None = None,
    at: datetime | None = None,
    told: bool = True,
) -> Incident:
    """The reporter's rating of a closed case. "Not fixed" reopens it once (back to its handler);
    the second time it returns to the community to decide."""
    if incident.state != IncidentState.closed or incident.rating is not None:
        raise Conflict("incident_rate", field="rating")  # a closing is rated once
    now = at or utcnow()
    actor = actor or REPORTER
    incident.rating, incident.rating_note, incident.rated_at = rating, note, now
    incident.updated_at = now
    _entry(
        session,
        incident,
        "rated",
        actor=actor,
        note=note,
        data={"rating": rating.value, "fixed": fixed},
        at=now,
    )
    if not fixed and incident.reopened < 2:
        action = Action.reopen if incident.reopened == 0 else Action.to_community
        before = incident.state
        incident.state = flows.MOVES[before][action]
        incident.reopened += 1
        incident.is_open = True
        incident.closed_at = incident.verified_at = incident.done_at = incident.on_time = None
        incident.rating = None
        if action == Action.to_community:
            incident.assignee_user_id = incident.assignee = None
            incident.level = max(incident.level, Level.community)
        start = now
        _due(session, incident, start)
        incident.overdue_at = None
        session.flush()
        _step(session, incident, action.value, at=now, told=told, from_state=before)
        _follow(session, incident, at=now)
    session.flush()
    return incident


def _follow(session: Session, incident: Incident, *, at: datetime) -> None:
    """A case ended, merged or reopened: a facility defect it stands for (an inspection's, or
    one merged into it) follows."""
    if incident.is_open and not incident.reopened:
        return
    # Imported here: facilities reports its defects through this module.
    from pingan.facilities import service as facility_service

    facility_service.incident_moved(session, incident=incident, at=at)


# --- telling people -----------------------------------------------------------------------------

# The moves a reporter who asked to be told hears of, by SMS.
TOLD = frozenset(
    {
        Action.accept.value,
        Action.reject.value,
        Action.merge.value,
        Action.done.value,
        Action.close.value,
        Action.reopen.value,
        Action.to_community.value,
    }
)


def _message(
    session: Session, incident: Incident, event: str, link: str, at: datetime
) -> AlarmMessage:
    """What a channel or an SMS says about a case (the outbox's message of an alarm's shape)."""
    found = catalogue(session).kind(incident.kind)
    names = territory_service.names(
        session, node_ids=[incident.community_id, incident.grid_id or 0]
    )
    place = " / ".join(
        filter(None, [names.get(incident.community_id), names.get(incident.grid_id or 0)])
    )
    return AlarmMessage(
        event=event,
        alarm_id=incident.id,
        priority=incident.priority,
        category=incident.kind,
        title=f"#{incident.id} {found[1].name if found else incident.kind}",
        state=STATE_LABEL[incident.state],
        level=incident.level,
        place=" · ".join(filter(None, [place, incident.address])),
        raised_at=at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        link=link,
    )


def tell(
    session: Session,
    *,
    incident: Incident,
    entry: IncidentEntry,
    rules: RuleBook | None = None,
) -> int:
    """After a move: the reporter (and those whose reports were merged into the case) by SMS
    when they asked to be; the handler of a case near or past its limit by SMS; the centre's
    channels of an overdue case. Queued in the outbox, sent after the commit."""
    queued = 0
    if entry.action in TOLD:
        for report in [incident, *merged_reporters(session, incident=incident)]:
            if report.notify_sms and report.reporter_phone:
                message = _message(
                    session, incident, "incident.changed", f"/m/case/{report.token}", entry.at
                )
                queued += outbox.enqueue_message(
                    session,
                    message=message,
                    incident_id=report.id,
                    numbers=[report.reporter_phone],
                    every_alarm=False,
                    rules=None,
                )
    if entry.action in ("reminded", "overdue", "escalated"):
        handler = (
            auth_service.get(session, user_id=incident.assignee_user_id)
            if incident.assignee_user_id
            else None
        )
        numbers = [handler.phone] if handler is not None and handler.phone else []
        queued += outbox.enqueue_message(
            session,
            message=_message(
                session, incident, f"incident.{entry.action}", f"/incidents/{incident.id}", entry.at
            ),
            incident_id=incident.id,
            numbers=numbers,
            every_alarm=entry.action != "reminded",
            rules=rules,
        )
    return queued


# --- time limits --------------------------------------------------------------------------------


def tick(
    session: Session,
    *,
    now: datetime | None = None,
    rules: RuleBook | None = None,
    told: bool = True,
) -> dict[str, int]:
    """Remind handlers at 80 % of the limit; past it a case is overdue and goes to the
    community's desk; overdue by as long again, to the street's."""
    now = now or utcnow()
    counts = {"reminded": 0, "overdue": 0, "escalated": 0}
    for incident in _timed(session, Incident.reminded_at.is_(None), Incident.remind_at <= now):
        incident.reminded_at = now
        _step(session, incident, "reminded", at=now, told=told, rules=rules)
        counts["reminded"] += 1
    for incident in _timed(session, Incident.overdue_at.is_(None), Incident.due_at <= now):
        incident.overdue_at = now
        incident.level = max(incident.level, Level.community)
        _step(session, incident, "overdue", at=now, told=told, rules=rules)
        counts["overdue"] += 1
    for incident in _timed(
        session, Incident.overdue_at.is_not(None), Incident.level < Level.street
    ):
        assert incident.due_at is not None
        start = incident.accepted_at or incident.reported_at
        if now >= incident.due_at + (incident.due_at - start):
            incident.level = Level.street
            _step(session, incident, "escalated", at=now, told=told, rules=rules)
            counts["escalated"] += 1
    session.flush()
    return counts


def _timed(session: Session, *conditions: ColumnElement[bool]) -> Sequence[Incident]:
    """Open cases whose clock runs (accepted, assigned, in hand) and that meet the conditions,
    locked for this worker."""
    return session.scalars(
        select(Incident)
        .where(
            Incident.is_open.is_(True),
            Incident.state.in_([s.value for s in TIMED_STATES]),
            *conditions,
        )
        .with_for_update(skip_locked=True)
    ).all()


def _step(
    session: Session,
    incident: Incident,
    action: str,
    *,
    at: datetime,
    told: bool,
    rules: RuleBook | None = None,
    from_state: IncidentState | None = None,
) -> IncidentEntry:
    """What the platform itself writes on a case's timeline, and whom it tells (unless the step
    is recorded after the fact)."""
    entry = _entry(session, incident, action, from_state=from_state, at=at)
    if told:
        tell(session, incident=incident, entry=entry, rules=rules)
    return entry


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureRow:
    """What the figures need of a case (assessment.figures)."""

    kind: str
    category: str
    channel: str
    community_id: int
    grid_id: int | None
    street_line_id: int | None
    reported_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    state: str
    is_open: bool
    on_time: bool | None
    reopened: int
    rating: str | None
    overdue: bool


def figure_rows(
    session: Session, *, actor: Principal, since: datetime, until: datetime
) -> list[FigureRow]:
    """The cases reported in a period that the actor sees (merged duplicates left out: they are
    counted in the case they joined)."""
    rows = session.execute(
        select(
            Incident.kind,
            Incident.category,
            Incident.channel,
            Incident.community_id,
            Incident.grid_id,
            Incident.street_line_id,
            Incident.reported_at,
            Incident.accepted_at,
            Incident.closed_at,
            Incident.state,
            Incident.is_open,
            Incident.on_time,
            Incident.reopened,
            Incident.rating,
            Incident.overdue_at.is_not(None).label("overdue"),
        ).where(
            scope_clause(session, actor),
            Incident.reported_at >= since,
            Incident.reported_at < until,
            Incident.state != IncidentState.merged,
        )
    ).all()
    return [FigureRow(**dict(r._mapping)) for r in rows]


def overdue_now(session: Session, *, actor: Principal) -> list[tuple[int, int]]:
    """Open overdue cases now, by community: (community id, count)."""
    rows = session.execute(
        select(Incident.community_id, func.count(Incident.id))
        .where(
            scope_clause(session, actor),
            Incident.is_open.is_(True),
            Incident.overdue_at.is_not(None),
        )
        .group_by(Incident.community_id)
    ).all()
    return [(int(c), int(n)) for c, n in rows]


def street_names(
    session: Session, *, street_ids: Iterable[int]
) -> dict[int, tuple[str, int | None]]:
    """Streets' names and chiefs, by id."""
    ids = list(set(street_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(StreetLine.id, StreetLine.name, StreetLine.chief_user_id).where(
            StreetLine.id.in_(ids)
        )
    )
    return {int(i): (str(n), c) for i, n, c in rows}
