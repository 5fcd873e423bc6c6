"""Faces in the console, for the roles that hold these permissions: the recognition and door
log with its filters (a snapshot opened on purpose, each view audited; "not this person" from a
recognition), the watchlists (the blocked list with its legal basis, case and expiry; care and
dementia lists), and search by photo with its stated reason. Reads through the faces services;
writes and snapshots through the faces API, so every rule and audit applies once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from pingan.alarms import service as alarm_service
from pingan.alarms.models import STATE_LABEL
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import day_start, utcnow
from pingan.db.paging import page_count
from pingan.devices import service as device_service
from pingan.devices.models import DeviceKind
from pingan.faces import service as face_service
from pingan.faces import watch
from pingan.faces.models import WATCH_LABEL, Decision, WatchKind
from pingan.i18n import N_
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind

if TYPE_CHECKING:
    from pingan.web.pages import Pages

PAGE = 50
STRANGER_DAYS = 30  # the recurring strangers listed: their alarms of this many days
DECISION_WORDS = {
    Decision.grant: N_("放行"),
    Decision.deny: N_("拒绝"),
    Decision.seen: N_("经过"),
}


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/faces", include_in_schema=False)
    def faces_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.alarms_read)),
        door: int | None = None,
        decision: Decision | None = None,
        day: date | None = None,
        page: int = 1,
    ) -> Response:
        page = max(page, 1)
        since = day_start(day) if day else None
        with pages.session(principal, request) as session:
            rows, total = face_service.recognitions(
                session,
                actor=principal,
                device_id=door,
                decision=decision,
                since=since,
                until=since + timedelta(days=1) if since else None,
                limit=PAGE,
                offset=(page - 1) * PAGE,
            )
            doors = [
                d
                for kind in (DeviceKind.face_terminal, DeviceKind.camera)
                for d in device_service.get_all(session, actor=principal, kind=kind, limit=500)[0]
            ]
            names = {d.id: d.name for d in doors}
            people = territory_service.people_names(
                session, person_ids=[r.person_id for r in rows if r.person_id]
            )
            # Strangers who came back at night (the watch's own list, kept as its alarms).
            strangers, _n = alarm_service.get_all(
                session,
                actor=principal,
                category="stranger",
                since=utcnow() - timedelta(days=STRANGER_DAYS),
                limit=50,
            )
            can_watch = principal.holds(Perm.watch_care, Perm.watch_blocked)
            entries = watch.entries(session, actor=principal, kind=None) if can_watch else []
            places = territory_service.get_all_of_kinds(
                session,
                actor=principal,
                kinds=[NodeKind.street, NodeKind.community, NodeKind.site],
                perm=Perm.watch_care if principal.paths(Perm.watch_care) else Perm.watch_blocked,
            )
            return pages.render(
                request,
                "faces.html",
                principal=principal,
                rows=rows,
                total=total,
                page=page,
                pages_total=page_count(total, PAGE),
                doors=doors,
                door_names=names,
                people=people,
                decision_words=DECISION_WORDS,
                filters={
                    "door": door or "",
                    "decision": decision.value if decision else "",
                    "day": day.isoformat() if day else "",
                },
                can_snapshot=principal.holds(Perm.faces_search, Perm.faces_enrol),
                can_correct=principal.holds(Perm.faces_search, Perm.faces_enrol),
                can_watch=can_watch,
                can_block=principal.holds(Perm.watch_blocked),
                can_care=principal.holds(Perm.watch_care),
                can_search=principal.holds(Perm.faces_search),
                entries=entries,
                strangers=strangers,
                stranger_days=STRANGER_DAYS,
                state_words=STATE_LABEL,
                watch_people=territory_service.people_names(
                    session, person_ids=[e.person_id for e in entries if e.person_id]
                ),
                watch_label=WATCH_LABEL,
                kinds=list(WatchKind),
                places=places,
            )
