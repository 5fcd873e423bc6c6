"""The targets register: the measures the platform computes, the street's targets with their
standing, their readings (the trend), and entries with their evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response
from fastapi import UploadFile as Upload
from sqlalchemy.orm import Session

from pingan.api_common import (
    DB,
    Actor,
    DetachedActor,
    StrictQuery,
    document_response,
    form_json,
    in_transaction,
    needs,
    read_document,
    request_lang,
)
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.errors import NotFound
from pingan.i18n import N_, gettext, phrase
from pingan.photos import DOCUMENT_MAX
from pingan.targets import service
from pingan.targets.measures import MEASURES
from pingan.targets.models import Target
from pingan.targets.schemas import (
    MeasureOut,
    ReadingIn,
    ReadingOut,
    StandingOut,
    TargetDetail,
    TargetIn,
    TargetOut,
    TargetPatch,
)
from pingan.territory import service as territory_service

router = APIRouter(dependencies=[StrictQuery], tags=["targets"])

READING_BODY = DOCUMENT_MAX + 64 * 1024


def target_out(session: Session, actor: Principal, target: Target) -> TargetOut:
    s = service.standing(session, target=target)
    return TargetOut.model_validate(target).model_copy(
        update={
            "node_name": territory_service.names(session, node_ids=[target.node_id]).get(
                target.node_id, ""
            ),
            "standing": StandingOut(
                value=s.value,
                progress=s.progress,
                expected=s.expected,
                status=s.status,
                as_of=s.as_of,
            ),
            "may_enter": service.may_enter(actor, target),
        }
    )


def _detail(session: Session, actor: Principal, target: Target) -> TargetDetail:
    return TargetDetail(
        **target_out(session, actor, target).model_dump(),
        readings=[ReadingOut.model_validate(r) for r in service.readings(session, target=target)],
    )


@router.get(
    "/targets/measures", response_model=list[MeasureOut], openapi_extra=needs(Perm.targets_read)
)
def list_measures(request: Request, actor: Actor) -> list[MeasureOut]:
    """What the platform computes by itself; a target with none of these is entered."""
    lang = request_lang(request)
    return [
        MeasureOut(
            key=m.key,
            name=gettext(m.name, lang),
            definition=gettext(m.definition, lang),
            unit=gettext(m.unit, lang),
            historic=m.historic,
        )
        for m in MEASURES.values()
    ]


@router.get("/targets", response_model=list[TargetOut], openapi_extra=needs(Perm.targets_read))
def list_targets(
    actor: Actor,
    session: DB,
    community: Annotated[
        int | None, Query(description="This community's targets and the street's")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or withdrawn")] = None,
) -> list[TargetOut]:
    """The targets in view, each with its value now, its progress and the time gone."""
    within = territory_service.path_within(session, actor=actor, node_id=community)
    rows = service.get_all(session, actor=actor, within=within, active=active)
    return [target_out(session, actor, t) for t in rows]


@router.post(
    "/targets",
    response_model=TargetDetail,
    status_code=201,
    openapi_extra=needs(Perm.targets_manage),
)
def create_target(data: TargetIn, actor: Actor, session: DB) -> TargetDetail:
    """A target for the street or one community: unit and deadline required; with a measure its
    value is computed (and its trend filled back where the measure can), otherwise entered."""
    target = service.create(session, actor=actor, data=data)
    return _detail(session, actor, target)


@router.get(
    "/targets/{target_id}", response_model=TargetDetail, openapi_extra=needs(Perm.targets_read)
)
def get_target(target_id: int, actor: Actor, session: DB) -> TargetDetail:
    target = service.get_visible_or_raise(session, actor=actor, target_id=target_id)
    return _detail(session, actor, target)


@router.patch(
    "/targets/{target_id}", response_model=TargetDetail, openapi_extra=needs(Perm.targets_manage)
)
def patch_target(target_id: int, data: TargetPatch, actor: Actor, session: DB) -> TargetDetail:
    """Change a target's terms, or withdraw it (active false); `version` as read."""
    target = service.get_visible_or_raise(session, actor=actor, target_id=target_id)
    service.update(session, actor=actor, target=target, data=data)
    return _detail(session, actor, target)


ReadingField = Annotated[str, Form(description="The entry as JSON (ReadingIn)")]
EvidenceFile = Annotated[
    Upload | None, File(description="What shows it: a PDF, or a photo (JPEG, PNG, WebP)")
]


@router.post(
    "/targets/{target_id}/readings",
    response_model=ReadingOut,
    status_code=201,
    openapi_extra=needs(Perm.targets_write, body=READING_BODY),
)
async def post_reading(
    request: Request,
    target_id: int,
    actor: DetachedActor,
    reading: ReadingField,
    evidence: EvidenceFile = None,
) -> ReadingOut:
    """A value of a target the platform cannot compute, with its evidence: a note always, and a
    photo or a PDF where there is one."""
    data: ReadingIn = form_json(ReadingIn, reading, "reading")
    kept = (
        await read_document(evidence, problem="target_evidence", field="evidence")
        if evidence is not None
        else None
    )

    def save(session: Session) -> ReadingOut:
        target = service.get_visible_or_raise(session, actor=actor, target_id=target_id)
        row = service.enter(session, actor=actor, target=target, data=data, evidence=kept)
        return ReadingOut.model_validate(row)

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/targets/{target_id}/readings/{reading_id}/evidence",
    response_class=Response,
    openapi_extra=needs(Perm.targets_read),
)
def reading_evidence(target_id: int, reading_id: int, actor: Actor, session: DB) -> Response:
    target = service.get_visible_or_raise(session, actor=actor, target_id=target_id)
    row = service.reading_or_raise(session, target=target, reading_id=reading_id)
    if row.evidence is None or row.evidence_type is None:
        raise NotFound(what=phrase(N_("填报记录 {n} 的佐证材料"), n=reading_id))
    return document_response(row.evidence, row.evidence_type, f"target-{target.id}-{row.id}")
