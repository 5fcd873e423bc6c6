"""Face consent, enrolment, cards and PINs; recognition and door checks for terminals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from pingan.api_common import (
    DB,
    DEVICE,
    SIGNED_IN,
    Actor,
    DetachedActor,
    Page,
    Paging,
    StrictQuery,
    in_transaction,
    needs,
    page_of,
    request_lang,
)
from pingan.auth import audit
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.devices.service import DeviceInfo
from pingan.errors import Invalid, NotFound
from pingan.faces import retention, service, watch
from pingan.faces import search as face_search
from pingan.faces.analysis import Analysis
from pingan.faces.models import (
    ConsentMethod,
    ConsentPurpose,
    Credential,
    CredentialKind,
    Decision,
    WatchKind,
)
from pingan.faces.runtime import FaceRuntime
from pingan.faces.schemas import (
    ConsentIn,
    ConsentOut,
    CredentialIn,
    CredentialOut,
    DecisionOut,
    EnrolOut,
    TemplateOut,
    WatchIn,
    WatchOut,
    WithdrawIn,
)
from pingan.i18n import N_, phrase, t
from pingan.ingest.http import device_upload, keep_refused
from pingan.masking import NumberOut
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, Person, TerritoryNode

router = APIRouter(dependencies=[StrictQuery], tags=["faces"])
MAX_PHOTO = 5 * 1024 * 1024
# A form of up to five photos, one more to be told "too many", and the form's own overhead.
MAX_PHOTOS_FORM = (service.MAX_TEMPLATES + 1) * MAX_PHOTO + 64 * 1024


def _faces(request: Request) -> FaceRuntime:
    runtime: FaceRuntime = request.app.state.faces
    return runtime


def _person(session: Session, actor: Principal, person_id: int) -> Person:
    if actor.person_id == person_id:  # one's own face data
        person = session.get(Person, person_id)
        if person is not None:
            return person
    return territory_service.get_person_visible_or_raise(
        session, actor=actor, person_id=person_id, perm=Perm.faces_enrol
    )


async def _analyse_uploads(
    faces: FaceRuntime, photos: list[UploadFile]
) -> list[tuple[str, Analysis]]:
    """Each uploaded photo analysed in the face workers; one that is no image is refused."""
    analysed: list[tuple[str, Analysis]] = []
    for upload in photos[: service.MAX_TEMPLATES + 1]:  # one more: "too many" is then said
        data = await upload.read(MAX_PHOTO + 1)
        name = upload.filename or "photo"
        if len(data) > MAX_PHOTO:
            raise Invalid("bad_photo", field="photos", photo=name, reason="over 5 MB")
        try:
            analysed.append((name, await faces.workers.analyse_async(data)))
        except ValueError as exc:
            raise Invalid("bad_photo", field="photos", photo=name, reason=str(exc)) from exc
    return analysed


# --- consent ------------------------------------------------------------------------------------


@router.post(
    "/people/{person_id}/face-consents",
    response_model=ConsentOut,
    status_code=201,
    openapi_extra=needs(Perm.faces_enrol),
)
def give_consent(person_id: int, data: ConsentIn, actor: Actor, session: DB) -> ConsentOut:
    """Record a person's separate consent to face recognition (purpose, scope, how, by whom;
    a guardian's for a child under 14), and whether the platform may hold the template."""
    person = _person(session, actor, person_id)
    return ConsentOut.model_validate(
        service.record_consent(session, actor=actor, person=person, data=data)
    )


@router.get(
    "/people/{person_id}/face-consents",
    response_model=list[ConsentOut],
    openapi_extra=needs(Perm.faces_enrol, SIGNED_IN),
)
def list_consents(person_id: int, actor: Actor, session: DB) -> list[ConsentOut]:
    person = _person(session, actor, person_id)
    return [ConsentOut.model_validate(c) for c in service.consents(session, person=person)]


@router.post(
    "/face-consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    openapi_extra=needs(Perm.faces_enrol, SIGNED_IN),
)
def withdraw_consent(consent_id: int, data: WithdrawIn, actor: Actor, session: DB) -> ConsentOut:
    """Withdraw: the person's templates and photos under it are deleted at once."""
    consent = service.consent_visible_or_raise(session, actor=actor, consent_id=consent_id)
    service.withdraw(session, consent=consent, by=actor.actor, reason=data.reason)
    return ConsentOut.model_validate(consent)


# --- templates ----------------------------------------------------------------------------------


@router.post(
    "/people/{person_id}/face-templates",
    response_model=EnrolOut,
    openapi_extra=needs(Perm.faces_enrol, body=MAX_PHOTOS_FORM),
)
async def enrol(
    person_id: int,
    request: Request,
    actor: DetachedActor,
    photos: Annotated[list[UploadFile], File(description="1–5 photos: JPEG, PNG or WebP")],
) -> EnrolOut:
    """Enrol a person's face from 1–5 photos. A photo with no face, several faces, a face too
    small, too blurred or turned too far is refused with the reason; the others are enrolled."""
    faces = _faces(request)
    vault = faces.vault()
    await in_transaction(request, lambda s: _person(s, actor, person_id), actor=actor)
    analysed = await _analyse_uploads(faces, photos)

    def save(session: Session) -> EnrolOut:
        person = _person(session, actor, person_id)
        results = service.enrol(
            session,
            actor=actor,
            person=person,
            photos=analysed,
            engine_id=faces.engine_id(),
            vault=vault,
        )
        return EnrolOut(
            results=results, templates=len(service.templates(session, person_id=person.id))
        )

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/people/{person_id}/face-templates",
    response_model=list[TemplateOut],
    openapi_extra=needs(Perm.faces_enrol, SIGNED_IN),
)
def list_templates(person_id: int, actor: Actor, session: DB) -> list[TemplateOut]:
    person = _person(session, actor, person_id)
    return [TemplateOut.model_validate(t) for t in service.templates(session, person_id=person.id)]


@router.delete(
    "/people/{person_id}/face-templates",
    status_code=204,
    openapi_extra=needs(Perm.faces_enrol, SIGNED_IN),
)
def delete_templates(person_id: int, actor: Actor, session: DB) -> Response:
    """Delete all of a person's face templates and photos (the consent stays on record)."""
    person = _person(session, actor, person_id)
    service.delete_templates(session, person_id=person.id)
    return Response(status_code=204)


# --- cards and PINs -----------------------------------------------------------------------------


@router.post(
    "/people/{person_id}/credentials",
    response_model=CredentialOut,
    status_code=201,
    openapi_extra=needs(Perm.faces_enrol),
)
def issue_credential(
    person_id: int, data: CredentialIn, request: Request, actor: Actor, session: DB
) -> CredentialOut:
    """A door card or PIN: the way in for everyone, with or without face consent."""
    person = _person(session, actor, person_id)
    credential = service.issue_credential(
        session, actor=actor, person=person, data=data, vault=_faces(request).vault()
    )
    return CredentialOut.model_validate(credential)


@router.get(
    "/people/{person_id}/credentials",
    response_model=list[CredentialOut],
    openapi_extra=needs(Perm.faces_enrol, SIGNED_IN),
)
def list_credentials(person_id: int, actor: Actor, session: DB) -> list[CredentialOut]:
    person = _person(session, actor, person_id)
    return [CredentialOut.model_validate(c) for c in service.credentials(session, person=person)]


@router.post(
    "/credentials/{credential_id}/revoke",
    response_model=CredentialOut,
    openapi_extra=needs(Perm.faces_enrol),
)
def revoke_credential(credential_id: int, actor: Actor, session: DB) -> CredentialOut:
    credential: Credential = service.credential_visible_or_raise(
        session, actor=actor, credential_id=credential_id
    )
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
    return CredentialOut.model_validate(credential)


# --- terminals ----------------------------------------------------------------------------------


def _record(
    request: Request, session: Session, outcome: service.Outcome, how: str, device: DeviceInfo
) -> DecisionOut:
    items = service.events_for(device, outcome, how)
    if items:
        request.app.state.runtime.pipeline.process(session, items)
    return _answer(outcome)


def _answer(outcome: service.Outcome) -> DecisionOut:
    return DecisionOut(
        decision=outcome.decision,
        reason=outcome.reason,
        person_id=outcome.person.id if outcome.person else None,
        name=service.masked_name(outcome.person.name) if outcome.person else None,
        score=round(outcome.score, 4) if outcome.score is not None else None,
        threshold=outcome.threshold,
        recognition_id=outcome.recognition.id if outcome.recognition else None,
    )


@router.post(
    "/faces/recognitions", response_model=DecisionOut, openapi_extra=needs(DEVICE, body=MAX_PHOTO)
)
async def recognise(
    request: Request,
    x_liveness: Annotated[
        str | None,
        Header(pattern="^(passed|failed)$", description="The terminal's own liveness check"),
    ] = None,
    x_card: Annotated[
        str | None,
        Header(min_length=4, max_length=64, description="Face + card doors: the card read"),
    ] = None,
    x_pin: Annotated[
        str | None,
        Header(pattern="^[0-9]{6,12}$", description="Face + PIN doors: the PIN typed"),
    ] = None,
) -> DecisionOut:
    """A face terminal or camera sends a snapshot (the image as the body: JPEG, PNG or WebP, at
    most 5 MiB and 50 megapixels) with its device token. A door is answered grant or deny within
    the same request, once the decision is committed. A door set to face + card or face + PIN
    takes the card or PIN in X-Card or X-Pin with the face."""
    upload = await device_upload(request, "抓拍")
    faces = _faces(request)
    vault = faces.vault()
    try:
        analysis = await faces.workers.analyse_async(upload.raw)
    except ValueError as exc:
        raise await keep_refused(
            request,
            upload,
            Invalid("bad_photo", photo="body", reason=str(exc)),
            "bad_image",
            str(exc),
        ) from exc
    liveness = None if x_liveness is None else x_liveness == "passed"
    factor = (
        service.SecondFactor(CredentialKind.card, x_card)
        if x_card
        else service.SecondFactor(CredentialKind.pin, x_pin)
        if x_pin
        else None
    )

    def decide(session: Session) -> DecisionOut:
        engine_id = faces.engine_id()
        dim = len(analysis.as_array()) or 512
        outcome = service.recognise(
            session,
            device=upload.device,
            analysis=analysis,
            engine_id=engine_id,
            gallery=faces.gallery(engine_id, dim),
            vault=vault,
            liveness=liveness,
            watching=faces.watching(engine_id, dim),
            fpir=faces.settings.face_fpir,
            second_factor=factor,
        )
        return _record(request, session, outcome, "face", upload.device)

    return await in_transaction(request, decide)


@router.post(
    "/doors/credentials", response_model=DecisionOut, openapi_extra=needs(DEVICE, body=4096)
)
async def check_credential(request: Request) -> DecisionOut:
    """A door reader sends a card number or PIN ({"kind": "card"|"pin", "secret": "…"}) with its
    device token, and is answered grant or deny."""
    upload = await device_upload(request, "凭证")
    try:
        body = json.loads(upload.raw)
        kind = CredentialKind(body["kind"])
        secret = str(body["secret"])
    except (ValueError, KeyError, TypeError) as exc:
        raise await keep_refused(
            request,
            upload,
            Invalid("bad_event", field="kind", reason="expected {kind: card|pin, secret}"),
            "schema",
            "expected {kind: card|pin, secret}",
        ) from exc
    vault = _faces(request).vault()

    def decide(session: Session) -> DecisionOut:
        outcome = service.verify_credential(
            session, device=upload.device, kind=kind, secret=secret, vault=vault
        )
        return _record(request, session, outcome, kind.value, upload.device)

    return await in_transaction(request, decide)


# --- search, sightings, holdings ----------------------------------------------------------------


class EnrolledOut(BaseModel):
    person_id: int
    name: str
    score: float


class SightingOut(BaseModel):
    recognition_id: int
    at: datetime
    device_id: int
    person_id: int | None
    score: float


class SearchOut(BaseModel):
    enrolled: list[EnrolledOut]
    sightings: list[SightingOut]
    threshold: float


@router.post(
    "/faces/search",
    response_model=SearchOut,
    openapi_extra=needs(Perm.faces_search, body=MAX_PHOTO + 64 * 1024),
)
async def search_by_photo(
    request: Request,
    actor: DetachedActor,
    photo: Annotated[UploadFile, File(description="A photo of the person sought")],
    reason: Annotated[str, Form(min_length=1, max_length=500, description="Why: recorded")],
    within: Annotated[int | None, Form(description="Only this node's subtree")] = None,
) -> SearchOut:
    """Where has this person been seen: enrolled people and recognitions (kept for
    PINGAN_FACE_SNAPSHOT_DAYS) that match. For roles with faces:search, within their scope, with
    a stated reason; each search is written to the audit log with what it returned."""
    faces = _faces(request)
    vault = faces.vault()

    def node_of(session: Session) -> TerritoryNode | None:
        if not within:
            return None
        return territory_service.get_visible_or_raise(session, actor=actor, node_id=within)

    await in_transaction(request, node_of, actor=actor)
    data = await photo.read(MAX_PHOTO + 1)
    if len(data) > MAX_PHOTO:
        raise Invalid(
            "bad_photo", field="photo", photo=photo.filename or "photo", reason="over 5 MB"
        )
    try:
        analysis = await faces.workers.analyse_async(data)
    except ValueError as exc:
        raise Invalid(
            "bad_photo", field="photo", photo=photo.filename or "photo", reason=str(exc)
        ) from exc

    def find(session: Session) -> SearchOut:
        engine_id = faces.engine_id()
        found = face_search.search(
            session,
            actor=actor,
            analysis=analysis,
            gallery=faces.gallery(engine_id, len(analysis.as_array()) or 512),
            rule=service.rule_for(session, engine_id=engine_id),
            fpir=faces.settings.face_fpir,
            vault=vault,
            reason=reason,
            within=node_of(session),
        )
        return SearchOut(
            enrolled=[EnrolledOut(**vars(e)) for e in found.enrolled],
            sightings=[
                SightingOut(
                    recognition_id=s.recognition_id,
                    at=s.at,
                    device_id=s.device_id,
                    person_id=s.person_id,
                    score=s.score,
                )
                for s in found.sightings
            ],
            threshold=found.threshold,
        )

    return await in_transaction(request, find, actor=actor)


class RecognitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    device_id: int
    person_id: int | None
    score: float | None
    decision: Decision
    reason: str
    liveness: bool | None
    has_snapshot: bool


@router.get(
    "/faces/recognitions",
    response_model=Page[RecognitionOut],
    openapi_extra=needs(Perm.alarms_read),
)
def list_recognitions(
    actor: Actor,
    session: DB,
    paging: Paging,
    device_id: int | None = None,
    person_id: int | None = None,
) -> Page[RecognitionOut]:
    """Faces seen at terminals and cameras within your scope (no images here)."""
    rows, total = service.recognitions(
        session,
        actor=actor,
        device_id=device_id,
        person_id=person_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(
        [
            RecognitionOut.model_validate({**r.__dict__, "has_snapshot": r.thumbnail is not None})
            for r in rows
        ],
        total,
        paging,
    )


@router.get(
    "/faces/recognitions/{recognition_id}/snapshot",
    response_class=Response,
    openapi_extra=needs(Perm.faces_search, Perm.faces_enrol, Perm.alarms_read),
)
def recognition_snapshot(
    recognition_id: int, request: Request, actor: Actor, session: DB
) -> Response:
    """The face crop of one recognition (JPEG). Every view is written to the audit log."""
    row = service.recognition_visible_or_raise(session, actor=actor, recognition_id=recognition_id)
    if row.thumbnail is None:
        raise NotFound(what=phrase(N_("识别记录 {n} 的抓拍（已过保存期限）"), n=recognition_id))
    audit.record(
        session,
        action="view",
        entity="face_recognitions",
        entity_id=str(row.id),
        scope_path=row.path,
    )
    return Response(
        _faces(request).vault().open(row.thumbnail),
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store"},
    )


class DoorOut(BaseModel):
    device_id: int
    name: str
    templates: int = Field(description="Templates this door compares a face with")
    people: int
    fpir_target: float = Field(description="Target share of strangers matched to someone")
    threshold: float = Field(description="The score a face must reach here (rises with templates)")
    expected_fpir: float
    expected_fnir: float = Field(description="Expected share of enrolled people refused")
    second_factor: str | None
    advice: str | None


def _door_out(request: Request, figures: service.DoorFigures) -> DoorOut:
    data = {k: v for k, v in vars(figures).items() if k != "path"}
    if figures.advice:
        data["advice"] = t(
            figures.advice,
            request_lang(request),
            fpir=f"{figures.fpir_target:.1%}",
            fnir=f"{figures.expected_fnir:.0%}",
        )
    return DoorOut(**data)


@router.get("/faces/doors", response_model=list[DoorOut], openapi_extra=needs(Perm.devices_read))
def face_doors(request: Request, actor: Actor, session: DB) -> list[DoorOut]:
    """Each face door in your scope: how many templates it searches (its residents, and staff
    granted to it), the threshold that keeps strangers to its target, and the share of its own
    people it can expect to refuse; a door whose gallery is too large is advised to ask a card
    or PIN with the face."""
    faces = _faces(request)
    engine_id = faces.engine_id()
    figures = service.doors_figures(
        session,
        actor=actor,
        gallery=faces.gallery(engine_id, 512),
        engine_id=engine_id,
        default_fpir=faces.settings.face_fpir,
    )
    return [_door_out(request, f) for f in figures]


class HoldingOut(BaseModel):
    street_id: int
    street: str
    people: int
    threshold: int
    warning: bool


@router.get(
    "/faces/holdings", response_model=list[HoldingOut], openapi_extra=needs(Perm.faces_enrol)
)
def face_holdings(actor: Actor, session: DB) -> list[HoldingOut]:
    """People with face data per street, against the 100,000 at which the regulator must be
    notified (warning from 90 %)."""
    return [HoldingOut(**vars(h)) for h in retention.holdings(session, actor=actor)]


@router.post(
    "/faces/recognitions/{recognition_id}/not-this-person",
    status_code=204,
    openapi_extra=needs(Perm.faces_enrol, Perm.faces_search, Perm.alarms_handle),
)
def not_this_person(recognition_id: int, actor: Actor, session: DB) -> Response:
    """Mark a wrong match: the face is kept as a negative example of that person and later
    sightings like it are not matched to them."""
    row = service.recognition_visible_or_raise(session, actor=actor, recognition_id=recognition_id)
    service.not_this_person(session, actor=actor, recognition=row)
    return Response(status_code=204)


# --- watchlists ---------------------------------------------------------------------------------


@router.post(
    "/watchlist",
    response_model=WatchOut,
    status_code=201,
    openapi_extra=needs(Perm.watch_care, Perm.watch_blocked),
)
def add_to_watchlist(data: WatchIn, actor: Actor, session: DB) -> WatchOut:
    """Blocked list (police liaison only: legal basis, case reference and expiry required), care
    list (elderly living alone; not seen for N days → welfare check), dementia list (seen at an
    exit gate → alarm naming the family to call)."""
    return WatchOut.model_validate(watch.add(session, actor=actor, data=data))


@router.get(
    "/watchlist",
    response_model=list[WatchOut],
    openapi_extra=needs(Perm.watch_care, Perm.watch_blocked),
)
def list_watchlist(actor: Actor, session: DB, kind: WatchKind | None = None) -> list[WatchOut]:
    return [WatchOut.model_validate(e) for e in watch.entries(session, actor=actor, kind=kind)]


@router.post(
    "/watchlist/{entry_id}/photos",
    response_model=EnrolOut,
    openapi_extra=needs(Perm.watch_care, Perm.watch_blocked, body=MAX_PHOTOS_FORM),
)
async def add_watch_photos(
    entry_id: int,
    request: Request,
    actor: DetachedActor,
    photos: Annotated[list[UploadFile], File(description="1–5 photos of the person sought")],
) -> EnrolOut:
    faces = _faces(request)
    vault = faces.vault()
    await in_transaction(
        request, lambda s: watch.visible_or_raise(s, actor=actor, entry_id=entry_id), actor=actor
    )
    analysed = await _analyse_uploads(faces, photos)

    def save(session: Session) -> EnrolOut:
        entry = watch.visible_or_raise(session, actor=actor, entry_id=entry_id)
        results = watch.add_photos(
            session, entry=entry, photos=analysed, engine_id=faces.engine_id(), vault=vault
        )
        return EnrolOut(results=results, templates=sum(r.accepted for r in results))

    return await in_transaction(request, save, actor=actor)


@router.post(
    "/watchlist/{entry_id}/end",
    response_model=WatchOut,
    openapi_extra=needs(Perm.watch_care, Perm.watch_blocked),
)
def end_watch(entry_id: int, actor: Actor, session: DB) -> WatchOut:
    """Take someone off a list; blocked-list faces are deleted at once."""
    entry = watch.visible_or_raise(session, actor=actor, entry_id=entry_id)
    watch.end(session, entry=entry)
    return WatchOut.model_validate(entry)


@router.get(
    "/watchlist/{entry_id}/contact-phone",
    response_model=NumberOut,
    openapi_extra=needs(Perm.people_phone),
)
def watch_contact_phone(entry_id: int, actor: Actor, session: DB) -> NumberOut:
    """The whole number of the family to call (dementia list). Each read is audited."""
    entry = watch.visible_or_raise(session, actor=actor, entry_id=entry_id)
    audit.record_number_read(
        session,
        entity="watch_entries",
        entity_id=entry.id,
        field="contact_phone",
        scope_path=entry.path,
    )
    return NumberOut(field="contact_phone", value=entry.contact_phone)


# --- a resident's own face data -----------------------------------------------------------------

OWN_PURPOSE = ConsentPurpose.door_access


class OwnFaceOut(BaseModel):
    person_id: int
    name: str
    site_id: int | None
    site: str | None
    consents: list[ConsentOut]
    templates: int


class OwnConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    central_storage: bool


def _me(session: Session, actor: Principal) -> tuple[Person, TerritoryNode | None]:
    if actor.person_id is None:
        raise NotFound(what=N_("本人的居民信息（此账号未关联居民）"))
    person = session.get(Person, actor.person_id)
    if person is None:
        raise NotFound(what=N_("本人的居民信息"))
    home = session.get(TerritoryNode, person.node_id)
    site = (
        territory_service.enclosing(session, path=home.path, kind=NodeKind.site) if home else None
    )
    return person, site


@router.get("/me/face", response_model=OwnFaceOut, openapi_extra=needs(SIGNED_IN))
def own_face(actor: Actor, session: DB) -> OwnFaceOut:
    """Your own face consents and how many face templates the platform holds of you."""
    person, site = _me(session, actor)
    return OwnFaceOut(
        person_id=person.id,
        name=person.name,
        site_id=site.id if site else None,
        site=site.name if site else None,
        consents=[ConsentOut.model_validate(c) for c in service.consents(session, person=person)],
        templates=len(service.templates(session, person_id=person.id)),
    )


@router.post(
    "/me/face-consents", response_model=ConsentOut, status_code=201, openapi_extra=needs(SIGNED_IN)
)
def give_own_consent(data: OwnConsentIn, actor: Actor, session: DB) -> ConsentOut:
    """Consent, yourself, to face access at your compound's doors."""
    person, site = _me(session, actor)
    if site is None:
        raise Invalid("consent_scope", field="node_id", name="—")
    consent = service.record_consent(
        session,
        actor=actor,
        person=person,
        data=ConsentIn(
            node_id=site.id,
            purpose=OWN_PURPOSE,
            central_storage=data.central_storage,
            method=ConsentMethod.online,
        ),
    )
    return ConsentOut.model_validate(consent)


@router.post(
    "/me/face-templates",
    response_model=EnrolOut,
    openapi_extra=needs(SIGNED_IN, body=MAX_PHOTOS_FORM),
)
async def enrol_own(
    request: Request,
    actor: DetachedActor,
    photos: Annotated[list[UploadFile], File(description="1–5 photos of yourself")],
) -> EnrolOut:
    person, _site = await in_transaction(request, lambda s: _me(s, actor), actor=actor)
    return await enrol(person.id, request, actor, photos)


@router.delete("/me/face-templates", status_code=204, openapi_extra=needs(SIGNED_IN))
def delete_own_templates(actor: Actor, session: DB) -> Response:
    """Delete every face template and photo the platform holds of you."""
    person, _site = _me(session, actor)
    service.delete_templates(session, person_id=person.id)
    return Response(status_code=204)
