"""Every page requires its user one way (pages.viewer): the pages are walked from the
application's routes, and every role is tried on each, as the API's routes are in
tests/auth/test_permissions.py."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from pingan.auth.roles import PERMISSIONS, Perm, Role
from tests.conftest import World, add_user
from tests.web.test_console import page

# Pages anyone may open, signed in or not, and what the phone's browser fetches by itself.
OPEN = {
    "/",
    "/login",
    "/logout",
    "/docs",
    "/favicon.ico",
    "/m",
    "/m/sw.js",
    "/m/manifest.webmanifest",
    # The base map's tiles and streets: geography, no personal data.
    "/tiles/{z}/{x}/{y}",
    "/map/streets.geojson",
    # A resident's report and their own case (by its key): no log-in, the API checks the rest.
    "/m/report",
    "/m/case/{token}",
    # Signing up as a volunteer, and their own page (by the key kept on their phone).
    "/m/volunteer",
}


def opens(perm: Perm | tuple[Perm, ...], role: Role) -> bool:
    """Whether a role holds a page's permission (or one of its permissions)."""
    wanted = perm if isinstance(perm, tuple) else (perm,)
    return any(p in PERMISSIONS[role] for p in wanted)


def pages_of(app: FastAPI) -> dict[str, Perm | tuple[Perm, ...] | None]:
    """Each page's path and the permission its viewer requires (None: any signed-in user)."""
    found: dict[str, Perm | tuple[Perm, ...] | None] = {}
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.include_in_schema or route.path in OPEN:
            continue
        viewers = [
            d.call for d in route.dependant.dependencies if d.call and hasattr(d.call, "perm")
        ]
        assert len(viewers) == 1, f"{route.path} does not require its user through pages.viewer"
        found[route.path] = viewers[0].perm  # type: ignore[attr-defined]
    return found


def test_every_page_requires_its_user_through_one_dependency(client: TestClient) -> None:
    found = pages_of(client.app)  # type: ignore[arg-type]
    assert found["/desk"] == Perm.alarms_read and found["/patrol"] == Perm.patrol_manage
    assert found["/me"] is None and found["/m/"] == Perm.patrol_run
    assert len(found) >= 10


def test_every_role_on_every_page_without_an_id(client: TestClient, world: World) -> None:
    for role in Role:
        add_user(world, f"as_{role.value}", role, "gh")
    world.session.commit()
    for path, perm in pages_of(client.app).items():  # type: ignore[arg-type]
        if "{" in path:
            continue
        anonymous = client.get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["location"]
        for role in Role:
            got = page(client, world, f"as_{role.value}", path).status_code
            # /me is a person's own page: these accounts are nobody's.
            allowed = opens(perm, role) if perm is not None else path != "/me"
            assert got == (200 if allowed else 404), (path, role, got)
