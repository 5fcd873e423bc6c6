"""The governance centre's console: alarm desk, one alarm, map, device wall, statistics and the
territory. Pages read through the same domain services as the API, so scope applies once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.alarms.models import CATEGORY_LABEL, Alarm
from pingan.alarms.notify.feed import change_alarm
from pingan.assessment import figures
from pingan.assessment.api import figure_out
from pingan.auth import audit
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.devices import service as device_service
from pingan.devices.models import KIND_LABEL, DeviceKind
from pingan.errors import PinganError
from pingan.events import service as event_service
from pingan.faces import service as face_service
from pingan.faces.models import METHOD_LABEL
from pingan.i18n import gettext
from pingan.incidents import service as incident_service
from pingan.masking import mask
from pingan.patrol import dispatch
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.geo import CRS
from pingan.territory.models import (
    KIND_LABEL as NODE_KIND_LABEL,
)
from pingan.territory.models import (
    SITE_TYPE_LABEL,
    NodeKind,
    Person,
    TerritoryNode,
    ancestor_id,
    ancestor_path,
)
from pingan.web import incident_pages
from pingan.web.phone import WORDS
from pingan.web.text import alarm_words, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages

NEAREST_CAMERAS = 4


def _places(session: Session, principal: Principal) -> dict[str, Any]:
    """Communities and sites in scope, for the desk's filters and its place column."""
    nodes = territory_service.get_all_of_kinds(
        session, actor=principal, kinds=[NodeKind.community, NodeKind.site], perm=Perm.alarms_read
    )
    return {
        "communities": [
            {"id": n.id, "name": n.name} for n in nodes if n.kind == NodeKind.community
        ],
        "sites": [
            {"id": n.id, "name": n.name, "community": ancestor_id(n.path, NodeKind.community)}
            for n in nodes
            if n.kind == NodeKind.site
        ],
    }


@dataclass(frozen=True)
class NamedRate:
    """An online rate on the device wall, with the name of its community or site."""

    rate_of: device_service.Rate
    name: str

    @property
    def id(self) -> int | None:
        return self.rate_of.node_id

    @property
    def devices(self) -> int:
        return self.rate_of.devices

    @property
    def online(self) -> int:
        return self.rate_of.online

    @property
    def rate(self) -> float:
        return self.rate_of.rate


def partial(request: Request) -> bool:
    """An htmx request, which wants a part of the page, not the whole."""
    return request.headers.get("hx-request") == "true"


def _silent_for(since: datetime | None, now: datetime) -> int | None:
    return int((now - since).total_seconds()) if since else None


def install(app: FastAPI, pages: Pages) -> None:
    # --- the desk ---------------------------------------------------------------------------------

    @app.get("/desk", include_in_schema=False)
    def desk(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.alarms_read))
    ) -> Response:
        with pages.session(principal, request) as session:
            rows, _total = alarm_service.get_all(session, actor=principal, desk=True, limit=500)
            initial = [change_alarm(a) for a in rows]
            places = _places(session, principal)
        levels = [alarm_service.desk_level(p) for p in principal.paths(Perm.alarms_read)]
        labels = {
            **alarm_words(request),
            "desk_level": min(levels) if levels else 0,
            **places,
        }
        return pages.render(
            request, "desk.html", principal=principal, initial=initial, labels=labels
        )

    # --- one alarm --------------------------------------------------------------------------------

    @app.get("/alarms/{alarm_id}", include_in_schema=False)
    def alarm_page(
        request: Request,
        alarm_id: int,
        principal: Principal = Depends(pages.viewer(Perm.alarms_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                alarm = alarm_service.get_visible_or_raise(
                    session, actor=principal, alarm_id=alarm_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{alarm_id}")
            place = alarm_service.place_of(session, alarm=alarm)
            trail, site, device, point = place.trail, place.site, place.device, place.point
            # The nearest cameras are measured in WGS-84; the minimap draws on the base map's.
            shown = geo.from_wgs84(*point, CRS(app.state.settings.map_tile_crs)) if point else None
            snapshot = alarm_service.alarm_snapshot(session, alarm)
            cameras = _nearest_cameras(session, principal, alarm, point)
            timeline = alarm_service.timeline(session, alarm=alarm)
            tasks = [
                {"task": t, "name": dispatch.responder_name(session, t), "label": WORDS[t.state]}
                for t in dispatch.tasks_of(session, alarm=alarm)
            ]
            can_handle = principal.can(Perm.alarms_handle, alarm.path)
            responders = (
                dispatch.candidate_view(session, alarm, limit=5)
                if can_handle and alarm.is_open
                else []
            )
            data = change_alarm(alarm)
            return pages.render(
                request,
                "alarm.html",
                principal=principal,
                linked={n.id for n in trail if principal.sees(n.path)},
                alarm=alarm,
                data=data,
                trail=trail,
                site=site,
                device=device,
                device_kind=KIND_LABEL[DeviceKind(device.kind)] if device else None,
                snapshot=snapshot,
                point=shown,
                cameras=cameras,
                timeline=timeline,
                tasks=tasks,
                responders=responders,
                can_handle=can_handle,
                category=CATEGORY_LABEL.get(alarm.category, alarm.category),
                labels=alarm_words(request),
            )

    def _nearest_cameras(
        session: Session,
        principal: Principal,
        alarm: Alarm,
        point: tuple[float, float] | None,
    ) -> list[dict[str, Any]]:
        community = ancestor_path(alarm.path, NodeKind.community)
        if point is None or community is None:
            return []
        return [
            {"device": camera, "place": place, "distance_m": round(far)}
            for camera, place, far in device_service.nearest(
                session,
                actor=principal,
                kind=DeviceKind.camera,
                within_path=community,
                point=point,
                limit=NEAREST_CAMERAS,
            )
        ]

    # --- map --------------------------------------------------------------------------------------

    @app.get("/map", include_in_schema=False)
    def map_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.territory_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            incident_words = incident_pages.incident_words(
                request, incident_service.catalogue(session)
            )
        return pages.render(
            request,
            "map.html",
            principal=principal,
            show_devices=principal.holds(Perm.devices_read),
            show_responders=principal.holds(Perm.alarms_handle),
            show_incidents=principal.holds(Perm.incidents_read),
            show_facilities=principal.holds(Perm.facilities_read),
            site_types={k.value: gettext(v, lang_of(request)) for k, v in SITE_TYPE_LABEL.items()},
            incident_kinds=incident_words["kinds"],
            incident_states=incident_words["states"],
        )

    # --- device wall ------------------------------------------------------------------------------

    def wall(request: Request, principal: Principal, community_id: int | None) -> dict[str, Any]:
        now = utcnow()
        with pages.session(principal, request) as session:
            within = (
                territory_service.get_visible_or_raise(
                    session, actor=principal, node_id=community_id
                ).path
                if community_id
                else None
            )
            level = NodeKind.site if community_id else NodeKind.community
            found = device_service.online_rates(
                session, actor=principal, level=level, within_path=within
            )
            offline_rows = device_service.not_online(session, actor=principal, within_path=within)
            names = territory_service.names(
                session,
                node_ids=[r.node_id for r in found if r.node_id]
                + [ancestor_id(path, NodeKind.community) or 0 for _d, path, _p in offline_rows]
                + ([community_id] if community_id else []),
            )
            rates = [NamedRate(r, names.get(r.node_id, "—") if r.node_id else "—") for r in found]
            offline = [
                {
                    "device": d,
                    "kind": KIND_LABEL[DeviceKind(d.kind)],
                    "place": place,
                    "community": names.get(ancestor_id(path, NodeKind.community) or 0, ""),
                    "silent_s": _silent_for(d.last_seen_at, now),
                    "never": d.last_seen_at is None,
                }
                for d, path, place in offline_rows
            ]
            total_offline = sum(r.devices - r.online for r in rates)
            letters, letters_total = event_service.dead_letters(
                session, actor=principal, limit=50, offset=0
            )
            all_devices = sum(r.devices for r in rates)
            all_online = sum(r.online for r in rates)
            return {
                "rates": rates,
                "level": level,
                "community": names.get(community_id) if community_id else None,
                "community_id": community_id,
                "offline": offline,
                "offline_total": total_offline or 0,
                "letters": letters,
                # Raw device messages are for those who manage devices (as in the API).
                "letters_allowed": principal.holds(Perm.devices_write),
                "letters_total": letters_total,
                "all_devices": all_devices,
                "all_online": all_online,
                "now": now,
            }

    @app.get("/devices", include_in_schema=False)
    def devices_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.devices_read)),
        community: int | None = None,
    ) -> Response:
        try:
            figures_of_wall = wall(request, principal, community)
        except PinganError:
            return pages.not_found(request, principal, f"#{community}")
        # The page polls itself every 15 s (htmx) and then takes the wall's body alone.
        if partial(request):
            return pages.render(
                request, "devices_panel.html", principal=principal, **figures_of_wall
            )
        return pages.render(
            request,
            "devices.html",
            principal=principal,
            doors=face_doors(request, principal),
            **figures_of_wall,
        )

    def face_doors(request: Request, principal: Principal) -> list[Any]:
        """Each face door's gallery and what it can expect (see faces.service.door_figures)."""
        faces = request.app.state.faces
        try:
            engine_id = faces.engine_id()
        except Exception:  # no face engine here: the page says so instead of the table
            return []
        with pages.session(principal, request) as session:
            return face_service.doors_figures(
                session,
                actor=principal,
                gallery=faces.gallery(engine_id, 512),
                engine_id=engine_id,
                default_fpir=faces.settings.face_fpir,
            )

    # --- statistics -------------------------------------------------------------------------------

    @app.get("/stats", include_in_schema=False)
    def stats_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.alarms_read)),
        start: date | None = None,
        end: date | None = None,
    ) -> Response:
        error = None
        try:
            span = figures.period(start, end)
        except PinganError as exc:
            span = figures.period(None, None)
            error = exc
        # Every figure from one load of the period, in the page: no round trip per chart.
        lang = lang_of(request)
        with pages.session(principal, request) as session:
            shown = [
                figure_out(f, span, lang).model_dump(mode="json")
                for f in figures.Figures(session, actor=principal, period=span).all()
            ]
        return pages.render(
            request, "stats.html", principal=principal, span=span, figures=shown, error=error
        )

    # --- territory --------------------------------------------------------------------------------

    @app.get("/territory", include_in_schema=False)
    def territory_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.territory_read)),
        node: int | None = None,
        q: str = "",
    ) -> Response:
        with pages.session(principal, request) as session:
            current = None
            if node is not None:
                try:
                    current = territory_service.get_visible_or_raise(
                        session, actor=principal, node_id=node
                    )
                except PinganError:
                    return pages.not_found(request, principal, f"#{node}")
            if current is None:
                children = territory_service.tops(session, actor=principal)
                trail: list[TerritoryNode] = []
            else:
                trail = territory_service.ancestors(session, node=current)
                found_children, _n = territory_service.get_all(
                    session, actor=principal, parent_id=current.id, limit=500
                )
                children = list(found_children)
            devices: list[Any] = []
            people: list[Person] = []
            people_total = 0
            if current is not None and current.kind in (
                NodeKind.site,
                NodeKind.building,
                NodeKind.household,
            ):
                if principal.can(Perm.devices_read, current.path):
                    devices = list(
                        device_service.get_all(
                            session, actor=principal, within=current.id, limit=200
                        )[0]
                    )
                if principal.can(Perm.people_read, current.path):
                    found, people_total = territory_service.get_all_people(
                        session, actor=principal, within=current.id, limit=100
                    )
                    people = list(found)
                    audit.record(  # a page listing residents is a search of people
                        session,
                        action="search",
                        entity="people",
                        scope_path=current.path,
                        after={
                            "filters": {"within": current.id},
                            "page": "territory",
                            "returned": [p.id for p in people],
                            "total": people_total,
                        },
                    )
            results: list[TerritoryNode] = []
            if q.strip():
                found_nodes, _n = territory_service.get_all(
                    session,
                    actor=principal,
                    q=q.strip(),
                    within=current.id if current else None,
                    limit=50,
                )
                results = list(found_nodes)
            template = "territory_results.html" if partial(request) else "territory.html"
            return pages.render(
                request,
                template,
                principal=principal,
                linked={n.id for n in trail if principal.sees(n.path)},
                node=current,
                trail=trail,
                children=children,
                devices=devices,
                people=people,
                people_total=people_total,
                results=results,
                q=q,
                kind_label=NODE_KIND_LABEL,
                mask=mask,
                site_type_label=SITE_TYPE_LABEL,
                device_kind_label=KIND_LABEL,
            )

    # --- people and their faces -------------------------------------------------------------------

    @app.get("/people/{person_id}", include_in_schema=False)
    def person_page(
        request: Request,
        person_id: int,
        principal: Principal = Depends(pages.viewer(Perm.people_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                person = territory_service.get_person_visible_or_raise(
                    session, actor=principal, person_id=person_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{person_id}")
            home = territory_service.get(session, node_id=person.node_id)
            assert home is not None
            audit.record(
                session,
                action="read",
                entity="people",
                entity_id=str(person.id),
                scope_path=home.path,
            )
            trail = territory_service.ancestors(session, node=home)
            can_enrol = principal.can(Perm.faces_enrol, home.path)
            # Consent and cards apply at the person's site, or a node above it, within scope.
            scopes = [
                n
                for n in reversed(trail)
                if n.kind in (NodeKind.site, NodeKind.grid, NodeKind.community)
                and principal.sees(n.path)
            ]
            return pages.render(
                request,
                "person.html",
                principal=principal,
                person=person,
                trail=trail,
                can_enrol=can_enrol,
                can_phone=principal.can(Perm.people_phone, home.path),
                can_id_number=principal.can(Perm.people_id_number, home.path),
                consents=face_service.consents(session, person=person) if can_enrol else [],
                templates=face_service.templates(session, person_id=person.id) if can_enrol else [],
                credentials=face_service.credentials(session, person=person) if can_enrol else [],
                scopes=scopes,
                scope_names={n.id: n.name for n in trail},
                method_label=METHOD_LABEL,
                mask=mask,
            )

    @app.get("/me", include_in_schema=False)
    def own_page(request: Request, principal: Principal = Depends(pages.viewer())) -> Response:
        """A resident's own page: their record, their household, and their consent to face
        access (given or withdrawn) with their photos."""
        if principal.person_id is None:
            return pages.not_found(request, principal, "/me")
        with pages.session(principal, request) as session:
            person = territory_service.get_person(session, person_id=principal.person_id)
            if person is None:
                return pages.not_found(request, principal, "/me")
            trail, household = territory_service.household_of(session, person=person)
            site = next((n for n in trail if n.kind == NodeKind.site), None)
            return pages.render(
                request,
                "me.html",
                principal=principal,
                person=person,
                address=" ".join(n.name for n in trail),
                household=household,
                mask=mask,
                consents=face_service.consents(session, person=person),
                templates=len(face_service.templates(session, person_id=person.id)),
                site=site.name if site else None,
            )
