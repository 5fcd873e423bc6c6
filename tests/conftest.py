"""Fixtures for both databases: every database test runs on SQLite and on PostgreSQL.

PostgreSQL: PINGAN_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each run works in a schema of its own, dropped at the end. When it cannot be reached the
PostgreSQL half is skipped with a reason, except in CI (CI=true) where that is a failure.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

_VAR = tempfile.mkdtemp(prefix="pingan-test-")
for _name in list(os.environ):
    if _name.startswith("PINGAN_") and _name != "PINGAN_TEST_POSTGRES_URL":
        del os.environ[_name]
os.environ["PINGAN_VAR_DIR"] = _VAR
os.environ["PINGAN_ARGON2_TIME_COST"] = "1"
os.environ["PINGAN_ARGON2_MEMORY_KIB"] = "1024"
os.environ["PINGAN_LOG_LEVEL"] = "WARNING"
_PG_URL = os.environ.pop(
    "PINGAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from pingan.app import create_app  # noqa: E402
from pingan.auth import service as auth_service  # noqa: E402
from pingan.auth.principal import SYSTEM  # noqa: E402
from pingan.auth.roles import Role  # noqa: E402
from pingan.auth.schemas import BindingIn, UserCreate  # noqa: E402
from pingan.config import Settings  # noqa: E402
from pingan.db import migrate  # noqa: E402
from pingan.db.engine import make_engine  # noqa: E402
from pingan.incidents.api import PUBLIC_REPORTS_PER_HOUR  # noqa: E402
from pingan.incidents.open311 import REQUESTS_PER_MINUTE  # noqa: E402
from pingan.ingest.http import Strangers  # noqa: E402
from pingan.limits import Window  # noqa: E402
from pingan.territory import service as territory_service  # noqa: E402
from pingan.territory.models import NodeKind, SiteType  # noqa: E402
from pingan.territory.schemas import NodeCreate, PersonCreate  # noqa: E402
from pingan.volunteers.api import SIGN_UPS_PER_HOUR  # noqa: E402

BACKENDS = ["sqlite", "postgresql"]
PG_URL = _PG_URL


def pg_available() -> tuple[bool, str]:
    try:
        eng = create_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True, ""
    except Exception as exc:
        return False, str(exc).splitlines()[0]


# Labelled face photos, kept beside the project (never copied into it); FACES_DIR points elsewhere.
FACES = Path(
    os.environ.get("FACES_DIR") or Path(__file__).parents[1].parent / "shared" / "data" / "faces"
)


def require_faces() -> Path:
    """The labelled photos' folder; without it a face test is skipped, and fails in CI."""
    if not FACES.is_dir():
        message = f"the labelled face photos are not at {FACES}: set FACES_DIR"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return FACES


CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> str:
    """Debian's Chromium for the browser tests; without it they are skipped, and fail in CI."""
    import shutil

    if shutil.which(CHROMIUM) is None:
        message = "Chromium is not installed: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def require_pg() -> None:
    ok, why = pg_available()
    if not ok:
        message = f"PostgreSQL not reachable at {PG_URL} ({why}); start it or set PINGAN_TEST_POSTGRES_URL"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Backend:
    name: str
    settings: Settings
    engine: Engine
    app: FastAPI


def new_pg_schema() -> str:
    schema = f"pingan_t_{os.getpid()}_{secrets.token_hex(3)}"
    eng = create_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    return schema


def drop_pg_schema(schema: str) -> None:
    eng = create_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


TEST_DATA_KEY = "dGVzdC1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0wMDA="  # 32 bytes, tests only
TEST_METRICS_TOKEN = "metrics-token-of-the-tests"
INTERNALS = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}  # /metrics, detailed /healthz


def settings_for(name: str, tmp: Path, **extra: Any) -> Settings:
    """Settings of a test database; no background workers or listeners unless asked for."""
    base: dict[str, Any] = {
        "var_dir": tmp,
        "run_workers": False,
        "sia_port": 0,
        "mqtt_url": "",
        "data_key": TEST_DATA_KEY,
        "metrics_token": TEST_METRICS_TOKEN,
    }
    base.update(extra)
    if name == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp / 'test.db'}", **base)
    return Settings(database_url=PG_URL, database_schema=new_pg_schema(), **base)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "postgresql":
        require_pg()
    settings = settings_for(request.param, tmp_path_factory.mktemp(request.param))
    engine = make_engine(settings)
    migrate.upgrade(engine)
    yield Backend(request.param, settings, engine, create_app(settings))
    engine.dispose()
    if settings.database_schema:
        drop_pg_schema(settings.database_schema)


@pytest.fixture()
def db(backend: Backend) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (the app shares it)."""
    connection = backend.engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    backend.app.state.sessionmaker = factory
    session = factory()
    session.info["actor"] = "test"
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture()
def client(backend: Backend, db: Session) -> Iterator[TestClient]:
    # No test inherits another's refused tokens or spent rates.
    backend.app.state.strangers = Strangers()
    backend.app.state.public_reports = Window(PUBLIC_REPORTS_PER_HOUR, 3600)
    backend.app.state.open311_clients = Window(REQUESTS_PER_MINUTE, 60)
    backend.app.state.volunteer_sign_ups = Window(SIGN_UPS_PER_HOUR, 3600)
    with TestClient(backend.app, base_url="http://testserver") as c:
        yield c


@dataclass
class World:
    """A small territory: 柳城街道 with 光华 and 红光 communities, and their accounts."""

    session: Session
    nodes: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    device_tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def square(w: float, s: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[w, s], [w + size, s], [w + size, s + size], [w, s + size], [w, s]]],
    }


def add_user(
    world: World, username: str, role: Role, node: str, person_id: int | None = None
) -> None:
    user = auth_service.create(
        world.session,
        actor=SYSTEM,
        data=UserCreate(
            username=username,
            display_name=username,
            password="correct horse battery",
            roles=[BindingIn(role=role, node_id=world.nodes[node])],
            person_id=person_id,
        ),
    )
    raw, _ = auth_service.issue_token(
        world.session, user=user, kind="api", name="test", lifetime=timedelta(hours=1)
    )
    world.users[username] = user.id
    world.tokens[username] = raw


@pytest.fixture()
def world(db: Session) -> World:
    w = World(db)
    make: Callable[..., int] = lambda key, **kw: w.nodes.setdefault(  # noqa: E731
        key, territory_service.create(db, actor=SYSTEM, data=NodeCreate(**kw)).id
    )
    make("street", kind=NodeKind.street, name="柳城街道", boundary=square(103.80, 30.68, 0.04))
    for key, name, west in (("gh", "光华社区", 103.80), ("hg", "红光社区", 103.82)):
        make(
            key,
            kind=NodeKind.community,
            parent_id=w.nodes["street"],
            name=name,
            boundary=square(west, 30.68, 0.02),
        )
        make(
            f"{key}_grid",
            kind=NodeKind.grid,
            parent_id=w.nodes[key],
            name=f"{name[:2]}第1网格",
            boundary=square(west, 30.68, 0.01),
        )
        make(
            f"{key}_site",
            kind=NodeKind.site,
            parent_id=w.nodes[f"{key}_grid"],
            name=f"{name[:2]}苑",
            site_type=SiteType.commercial_residential,
            lon=west + 0.005,
            lat=30.685,
        )
        make(
            f"{key}_bld",
            kind=NodeKind.building,
            parent_id=w.nodes[f"{key}_site"],
            name="1栋",
            floors=18,
            units=2,
        )
        make(f"{key}_hh", kind=NodeKind.household, parent_id=w.nodes[f"{key}_bld"], name="1单元101")
        person = territory_service.create_person(
            db,
            actor=SYSTEM,
            data=PersonCreate(
                node_id=w.nodes[f"{key}_hh"],
                name=f"{name[:2]}居民",
                id_number=None,
                phone="10012345678",
            ),
        )
        w.people[key] = person.id
    add_user(w, "street_admin", Role.street_admin, "street")
    add_user(w, "gh_admin", Role.community_admin, "gh")
    add_user(w, "hg_admin", Role.community_admin, "hg")
    add_user(w, "gh_operator", Role.centre_operator, "gh")
    db.flush()
    return w


def add_device(
    world: World,
    key: str,
    *,
    node: str,
    kind: str = "smoke_detector",
    protocol: str = "http",
    **extra: Any,
) -> str:
    """A device in the world; for HTTP ones, returns its ingest token."""
    from pingan.devices import service as device_service
    from pingan.devices.schemas import DeviceCreate

    device = device_service.create(
        world.session,
        actor=SYSTEM,
        data=DeviceCreate(
            code=key,
            name=extra.pop("name", key),
            kind=kind,
            protocol=protocol,
            node_id=world.nodes[node],
            **extra,
        ),
    )
    world.devices[key] = device.id
    token = (
        device_service.issue_http_token(world.session, device=device) if protocol == "http" else ""
    )
    world.device_tokens[key] = token
    return token
