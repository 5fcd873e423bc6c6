"""Every route declares its permission, and every role is tried against every route of the
OpenAPI: a role without the declared permission is refused (403) before any record is looked at,
a role holding it is not, and nobody gets in without logging in. A new route without a
declaration fails here (and stops the start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pingan.api_common import (
    ACCESS_KINDS,
    DEVICE,
    INTERNAL,
    PERMISSION,
    PUBLIC,
    SIGNED_IN,
    api_routes,
    declared,
    get_principal,
    get_principal_detached,
    needs,
)
from pingan.app import create_app, declare_permissions
from pingan.auth.roles import PERMISSIONS, Perm, Role
from tests.conftest import World, add_user, settings_for
from tests.test_responsiveness import _calls

# Where each role's test account is bound.
BOUND_AT = {
    Role.street_admin: "street",
    Role.community_admin: "gh",
    Role.centre_operator: "gh",
    Role.site_manager: "gh_site",
    Role.grid_officer: "gh_grid",
    Role.patrol_member: "gh",
    Role.police_liaison: "gh",
    Role.resident: "gh_hh",
    Role.street_chief: "street",
    Role.city_officer: "street",
    Role.inspector: "gh",
}
METHODS = ("get", "post", "put", "patch", "delete")
MISSING_ID = 987_654  # no record has it: a role let past the gate meets 404 or 422, never 403


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    # Logging out ends the token the next calls use: last.
    return sorted(ops, key=lambda o: o[1].endswith("/auth/logout"))


def url_of(path: str, op: dict[str, Any], spec: dict[str, Any]) -> str:
    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        schema = param["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        value = schema["enum"][0] if "enum" in schema else MISSING_ID
        if schema.get("type") == "string" and "enum" not in schema:
            value = "csv" if param["name"] == "fmt" else "nothing"
        path = path.replace("{" + param["name"] + "}", str(value))
    return path


def streams(path: str) -> bool:
    return path.endswith("/stream")


def call(client: TestClient, method: str, url: str, op: dict[str, Any], headers: dict[str, str]):  # type: ignore[no-untyped-def]
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        return client.request(method, url, json={}, headers=headers)
    if body:
        return client.request(method, url, data={}, headers=headers)
    return client.request(method, url, headers=headers)


def holds(role: Role, wanted: list[str]) -> bool:
    if SIGNED_IN in wanted:
        return True
    return any(Perm(p) in PERMISSIONS[role] for p in wanted if p not in ACCESS_KINDS)


def test_every_route_declares_a_permission_or_stops_the_start(tmp_path: Path) -> None:
    app = create_app(settings_for("sqlite", tmp_path))
    ops = operations(app.openapi())
    assert len(ops) > 100
    for method, path, op in ops:
        wanted = op.get(PERMISSION)
        assert wanted, f"{method.upper()} {path} declares no permission"
        assert all(p in ACCESS_KINDS or p in set(Perm) for p in wanted), (path, wanted)
        assert f"权限 Permission: `{wanted[0]}`" in op["description"], path  # shown on /docs

    # Whoever is not a device or the public is found by the dependencies that check the
    # declaration, live streams included (whose refusals below would otherwise stream).
    checked = {get_principal, get_principal_detached}
    for route in api_routes(app):
        wanted = declared(route)
        if wanted is not None and not {PUBLIC, DEVICE, INTERNAL} & set(wanted):
            assert checked & _calls(route.dependant), route.path

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /api/v1/forgotten"):
        declare_permissions(app)
    with pytest.raises(ValueError, match="needs permissions"):
        needs()
    with pytest.raises(ValueError):
        needs("alarms:everything")


def test_every_role_against_every_route(client: TestClient, world: World) -> None:
    for role, node in BOUND_AT.items():
        add_user(
            world,
            f"as_{role.value}",
            role,
            node,
            person_id=world.people["gh"] if role == Role.resident else None,
        )
    world.session.commit()
    spec = client.get("/api/v1/openapi.json").json()
    wrong: list[str] = []
    tried = refused = 0
    for method, path, op in operations(spec):
        wanted: list[str] = op[PERMISSION]
        url = url_of(path, op, spec)
        anonymous = call(client, method, url, op, {})
        if PUBLIC in wanted:
            if anonymous.status_code in (401, 403):
                wrong.append(f"{method} {path}: public, but {anonymous.status_code} without log-in")
            continue
        if anonymous.status_code != 401:
            wrong.append(f"{method} {path}: {anonymous.status_code} without log-in")
        if DEVICE in wanted or INTERNAL in wanted:
            # A person's log-in is no device token.
            r = call(client, method, url, op, world.auth("as_street_admin"))
            if r.status_code != 401:
                wrong.append(f"{method} {path}: a user's token answered {r.status_code}")
            continue
        for role in Role:
            allowed = holds(role, wanted)
            if allowed and streams(path):
                continue  # an open stream never ends; its refusals are still tried
            r = call(client, method, url, op, world.auth(f"as_{role.value}"))
            tried += 1
            if allowed and r.status_code in (401, 403):
                wrong.append(f"{method} {path} as {role}: {r.status_code} {r.text[:120]}")
            if not allowed:
                refused += 1
                problem = r.json() if r.status_code == 403 else {}
                if problem.get("type") != "/problems/forbidden":
                    wrong.append(f"{method} {path} as {role}: {r.status_code}, not refused")
    assert wrong == [], "\n".join(wrong)
    assert tried > 500 and refused > 200, (tried, refused)
