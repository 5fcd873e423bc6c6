"""Open311 GeoReport v2 at /open311/v2/: services from the event catalogue, service requests
from grid incidents, in XML (the specification's required format) and JSON.

Our states map onto the specification's two (`open`, `closed`) with the richer one in
`status_notes`. Contact details a client posts are personal data: kept on the case for those
who handle it, never in a GET answer. Errors are the specification's list of `{code,
description}`: 400 for a bad request, 403 for a missing or bad `api_key`, 404 for nothing there.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.api_common import PUBLIC, in_transaction, needs, request_lang
from pingan.auth.principal import Principal
from pingan.db.base import utcnow
from pingan.errors import NotFound, PinganError, RateLimited
from pingan.i18n import N_, gettext, phrase, t
from pingan.incidents import service
from pingan.incidents.catalogue import HANDLER_LABEL, Category, Kind
from pingan.incidents.models import STATE_LABEL, Channel, Incident, Open311Client
from pingan.incidents.schemas import DESCRIPTION_MAX, ReportIn
from pingan.limits import Window

PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
MEDIA = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000
REQUESTS_PER_MINUTE = 60  # per client key
KEY_PREFIX = "p311_"

router = APIRouter(tags=["open311"])


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        self.status, self.description = status, description
        super().__init__(description)


# --- answers in both formats --------------------------------------------------------------------


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    child = ET.SubElement(parent, key)
    if isinstance(value, list):
        singular = {"values": "value", "attributes": "attribute", "endpoints": "endpoint"}
        for item in value:
            if isinstance(item, dict):
                _xml_dict(ET.SubElement(child, singular.get(key, "item")), item)
            else:
                ET.SubElement(child, "format" if key == "formats" else "item").text = str(item)
    elif isinstance(value, dict):
        _xml_dict(child, value)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)


def _xml_dict(element: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        _xml_value(element, key, value)


def render(
    fmt: str, body: Any, *, root: str, item: str | None = None, status: int = 200
) -> Response:
    """JSON as it is; XML under `root`, a list's members each an `item` element."""
    if fmt == "json":
        text = json.dumps(body, ensure_ascii=False)
    else:
        top = ET.Element(root)
        if isinstance(body, list):
            for member in body:
                _xml_dict(ET.SubElement(top, item or "item"), member)
        else:
            _xml_dict(top, body)
        text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode")
    return Response(text.encode("utf-8"), status_code=status, media_type=MEDIA[fmt])


def error(fmt: str, status: int, description: str) -> Response:
    return render(
        fmt if fmt in MEDIA else "json",
        [{"code": status, "description": description}],
        root="errors",
        item="error",
        status=status,
    )


def _format(fmt: str) -> str:
    if fmt not in MEDIA:
        raise Open311Error(404, f"format {fmt!r}: use .xml or .json")
    return fmt


def _w3c(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _parse_w3c(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name}: not a W3C date and time") from None
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name}: give a time zone (Z or +08:00)")
    return moment


def _param(params: Any, name: str) -> str | None:
    """A parameter's value; an empty one is the same as none (clients send `jurisdiction_id=`)."""
    value = params.get(name)
    return value.strip() or None if isinstance(value, str) else None


# --- services -----------------------------------------------------------------------------------


def _service(category: Category, kind: Kind, lang: str) -> dict[str, Any]:
    return {
        "service_code": f"{category.code}.{kind.code}",
        "service_name": gettext(kind.name, lang),
        "description": gettext(kind.accept, lang),
        "metadata": bool(kind.fields),
        "type": "realtime",
        "keywords": category.code,
        "group": gettext(category.name, lang),
    }


def _definition(code: str, kind: Kind, lang: str) -> dict[str, Any]:
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": f.code,
                "datatype": f.datatype,
                "required": f.required,
                "datatype_description": "",
                "order": i + 1,
                "description": gettext(f.description, lang),
                "values": [{"key": c.key, "name": gettext(c.name, lang)} for c in f.values],
            }
            for i, f in enumerate(kind.fields)
        ],
    }


# --- requests -----------------------------------------------------------------------------------


def _request_out(incident: Incident, lang: str, session: Session) -> dict[str, Any]:
    catalogue = service.catalogue(session)
    found = catalogue.kind(incident.kind)
    name = gettext(found[1].name, lang) if found else incident.kind
    notes = gettext(STATE_LABEL[incident.state], lang)
    return {
        "service_request_id": str(incident.id),
        "status": "open" if incident.is_open else "closed",
        "status_notes": notes,
        "service_name": name,
        "service_code": incident.kind,
        "description": incident.description,
        "agency_responsible": gettext(HANDLER_LABEL.get(incident.handler, incident.handler), lang),
        "service_notice": "",
        "requested_datetime": _w3c(incident.reported_at),
        "updated_datetime": _w3c(incident.updated_at),
        "expected_datetime": _w3c(incident.due_at),
        "address": incident.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": incident.lat,
        "long": incident.lon,
        "media_url": incident.media_url or "",
    }


def _public_codes(session: Session) -> set[str]:
    """Kinds whose cases are listed to anyone (not a dispute between neighbours)."""
    return {
        f"{c.code}.{k.code}"
        for c in service.catalogue(session).categories
        if c.public
        for k in c.kinds
    }


def find_requests(session: Session, params: Any) -> Sequence[Incident]:
    """GET requests: `service_request_id` (a comma list) overrides every other filter; dates span
    at most 90 days; by default the last 90 days, at most 1,000."""
    public = _public_codes(session)
    stmt = select(Incident).where(Incident.kind.in_(public or {""}))
    ids_text = _param(params, "service_request_id")
    if ids_text:
        try:
            ids = [int(i) for i in ids_text.split(",") if i.strip()][:MAX_REQUESTS]
        except ValueError:
            raise Open311Error(400, "service_request_id: numbers separated by commas") from None
        return session.scalars(stmt.where(Incident.id.in_(ids)).order_by(Incident.id)).all()
    start_text, end_text = _param(params, "start_date"), _param(params, "end_date")
    start = _parse_w3c("start_date", start_text) if start_text else None
    end = _parse_w3c("end_date", end_text) if end_text else None
    if start and end:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date to end_date spans more than 90 days")
    elif start:
        end = start + MAX_SPAN
    elif end:
        start = end - MAX_SPAN
    else:
        end = utcnow()
        start = end - MAX_SPAN
    stmt = stmt.where(Incident.reported_at >= start, Incident.reported_at <= end)
    code = _param(params, "service_code")
    if code:
        stmt = stmt.where(Incident.kind == code)
    status = _param(params, "status")
    if status:
        if status not in ("open", "closed"):
            raise Open311Error(400, "status: open or closed")
        stmt = stmt.where(Incident.is_open.is_(status == "open"))
    return session.scalars(stmt.order_by(Incident.reported_at.desc()).limit(MAX_REQUESTS)).all()


# --- clients' keys ------------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, *, actor: Principal, name: str) -> tuple[Open311Client, str]:
    """A new client's key: shown once, kept as its hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    client = Open311Client(
        name=name.strip(),
        key_prefix=key[:10],
        key_hash=_digest(key),
        created_by=actor.actor,
        requests=0,
    )
    session.add(client)
    session.flush()
    return client, key


def clients(session: Session) -> Sequence[Open311Client]:
    return session.scalars(select(Open311Client).order_by(Open311Client.id)).all()


def client_or_raise(session: Session, *, client_id: int) -> Open311Client:
    found = session.get(Open311Client, client_id)
    if found is None:
        raise NotFound(what=phrase(N_("接口客户端 {n}"), n=client_id))
    return found


def revoke(session: Session, *, client: Open311Client) -> None:
    client.revoked_at = client.revoked_at or utcnow()
    session.flush()


def client_by_key(session: Session, key: str | None) -> Open311Client | None:
    if not key or len(key) > 100:
        return None
    found = session.scalar(select(Open311Client).where(Open311Client.key_hash == _digest(key)))
    return found if found is not None and found.revoked_at is None else None


# --- routes -------------------------------------------------------------------------------------


def _lang(request: Request) -> str:
    return request_lang(request)


async def _answer(
    request: Request, fmt: str, work: Callable[[str], Awaitable[Response]]
) -> Response:
    """Run the route's work; any refusal becomes the specification's error list."""
    try:
        return await work(_format(fmt))
    except Open311Error as exc:
        return error(fmt, exc.status, exc.description)
    except PinganError as exc:
        status = {404: 404, 403: 403, 401: 403, 429: 429}.get(exc.status, 400)
        params = {"fields": exc.field or "", **exc.params}
        return error(fmt, status, t(exc.key, _lang(request), **params))


@router.get(PREFIX + "/discovery.{fmt}", openapi_extra=needs(PUBLIC))
async def discovery(fmt: str, request: Request) -> Response:
    """Where this endpoint is and what it speaks (the Service Discovery document)."""

    async def work(f: str) -> Response:
        base = str(request.base_url).rstrip("/") + PREFIX
        body = {
            "changeset": "2026-12-07T00:00:00+08:00",
            "contact": request.app.state.settings.public_url or base,
            "key_service": "Keys are issued by the street office (the console's Open311 page)",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": "2026-12-07T00:00:00+08:00",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return render(f, body, root="discovery")

    return await _answer(request, fmt, work)


@router.get(PREFIX + "/services.{fmt}", openapi_extra=needs(PUBLIC))
async def services(fmt: str, request: Request) -> Response:
    """Every kind of the catalogue as a service, its category as the group."""

    async def work(f: str) -> Response:
        lang = _lang(request)

        def read(session: Session) -> list[dict[str, Any]]:
            return [
                _service(c, k, lang) for c in service.catalogue(session).categories for k in c.kinds
            ]

        return render(f, await in_transaction(request, read), root="services", item="service")

    return await _answer(request, fmt, work)


@router.get(PREFIX + "/services/{service_code}.{fmt}", openapi_extra=needs(PUBLIC))
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    """A service's attributes: the questions its reports answer."""

    async def work(f: str) -> Response:
        lang = _lang(request)

        def read(session: Session) -> dict[str, Any]:
            found = service.catalogue(session).kind(service_code)
            if found is None:
                raise Open311Error(404, f"service_code {service_code!r} not found")
            return _definition(service_code, found[1], lang)

        body = await in_transaction(request, read)
        return render(f, body, root="service_definition")

    return await _answer(request, fmt, work)


def _attributes(form: Any) -> dict[str, Any]:
    """`attribute[code]=v` and `attribute[code][]=v` (several) as {code: value or [values]}."""
    out: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not (key.startswith("attribute[") and key.endswith("]")):
            continue
        code = key[len("attribute[") :].removesuffix("[]").rstrip("]")
        if key.endswith("[]"):
            out.setdefault(code, []).append(value)
        else:
            out[code] = value
    return out


@router.post(PREFIX + "/requests.{fmt}", openapi_extra=needs(PUBLIC))
async def post_request(fmt: str, request: Request) -> Response:
    """Create a service request (form-encoded, with `api_key`): answered with its
    `service_request_id` at once."""

    async def work(f: str) -> Response:
        form = await request.form()
        key = _param(form, "api_key")
        window: Window = request.app.state.open311_clients

        def who(session: Session) -> tuple[int | None, str]:
            known = client_by_key(session, key)
            return (known.id, known.name) if known else (None, "")

        client_id, client_name = await in_transaction(request, who)
        if client_id is None:
            raise Open311Error(403, "api_key missing, unknown or revoked")
        wait = window.wait_s(str(client_id))
        if wait is not None:
            raise RateLimited("report_rate", seconds=wait)
        window.hit(str(client_id))  # every attempt with the key counts, refused or not
        code = _param(form, "service_code")
        if not code:
            raise Open311Error(400, "service_code is required")
        description = _param(form, "description") or ""
        if len(description) > DESCRIPTION_MAX:
            raise Open311Error(400, f"description: at most {DESCRIPTION_MAX} characters")
        lat_text, long_text = _param(form, "lat"), _param(form, "long")
        address = _param(form, "address_string")
        if (lat_text is None) != (long_text is None):
            raise Open311Error(400, "lat and long go together")
        if lat_text is None and not address:
            raise Open311Error(400, "a location is required: lat and long, or address_string")
        try:
            lat = float(lat_text) if lat_text else None
            lon = float(long_text) if long_text else None
        except ValueError:
            raise Open311Error(400, "lat and long: decimal degrees (WGS-84)") from None
        contact = {
            k: v
            for k in ("email", "first_name", "last_name", "phone", "device_id", "account_id")
            if (v := _param(form, k))
        }
        media_url = _param(form, "media_url")
        if media_url and not media_url.startswith(("http://", "https://")):
            raise Open311Error(400, "media_url: an http(s) address")
        try:
            data = ReportIn(
                kind=code,
                description=description or code,
                attributes=_attributes(form),
                lon=lon,
                lat=lat,
                address=address[:200] if address else None,
                reporter_name=" ".join(
                    filter(None, [contact.get("last_name"), contact.get("first_name")])
                )[:50]
                or None,
            )
        except ValueError as exc:
            raise Open311Error(400, str(exc).splitlines()[0]) from None
        actor = Principal(user_id=None, name=f"open311:{client_name}")

        def save(session: Session) -> dict[str, Any]:
            incident = service.report(
                session,
                actor=actor,
                data=data,
                channel=Channel.open311,
                contact=contact or None,
                client_id=client_id,
                media_url=media_url[:500] if media_url else None,
            )
            row = session.get(Open311Client, client_id)
            if row is not None:
                row.requests += 1
                row.last_used_at = utcnow()
            return {
                "service_request_id": str(incident.id),
                "service_notice": "",
                "account_id": contact.get("account_id", ""),
            }

        body = await in_transaction(request, save, actor=actor)
        return render(f, [body], root="service_requests", item="request")

    return await _answer(request, fmt, work)


@router.get(PREFIX + "/requests.{fmt}", openapi_extra=needs(PUBLIC))
async def get_requests(fmt: str, request: Request) -> Response:
    """Service requests, newest first (no contact details, ever)."""

    async def work(f: str) -> Response:
        lang = _lang(request)

        def read(session: Session) -> list[dict[str, Any]]:
            return [
                _request_out(i, lang, session) for i in find_requests(session, request.query_params)
            ]

        body = await in_transaction(request, read)
        return render(f, body, root="service_requests", item="request")

    return await _answer(request, fmt, work)


@router.get(PREFIX + "/requests/{request_id}.{fmt}", openapi_extra=needs(PUBLIC))
async def get_request(request_id: str, fmt: str, request: Request) -> Response:
    async def work(f: str) -> Response:
        lang = _lang(request)

        def read(session: Session) -> list[dict[str, Any]]:
            incident = session.get(Incident, int(request_id)) if request_id.isdigit() else None
            if incident is None or incident.kind not in _public_codes(session):
                raise Open311Error(404, f"service request {request_id} not found")
            return [_request_out(incident, lang, session)]

        body = await in_transaction(request, read)
        return render(f, body, root="service_requests", item="request")

    return await _answer(request, fmt, work)


@router.get(PREFIX + "/tokens/{token}.{fmt}", openapi_extra=needs(PUBLIC))
async def get_token(token: str, fmt: str, request: Request) -> Response:
    """A token's service request (ours are created at once, so a token always has one)."""

    async def work(f: str) -> Response:
        def read(session: Session) -> list[dict[str, Any]]:
            incident = service.get_by_token(session, token=token) if len(token) <= 64 else None
            if incident is None:
                raise Open311Error(404, "token not found")
            return [{"service_request_id": str(incident.id), "token": token}]

        body = await in_transaction(request, read)
        return render(f, body, root="service_requests", item="request")

    return await _answer(request, fmt, work)
