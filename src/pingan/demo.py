"""The demo territory: Liucheng sub-district (柳城街道) with 19 communities, and demo accounts.

Loaded only when asked (`pingan demo-data`, `make run`); the database is then marked as a demo.
The territory comes from data files in the package through the same import code as real data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.passwords import generate_password
from pingan.auth.principal import Principal
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db import meta
from pingan.db.base import utcnow
from pingan.imports import service as import_service
from pingan.imports.service import ImportKind
from pingan.patrol import service as patrol_service
from pingan.patrol.models import Member, Team, TeamKind
from pingan.patrol.schemas import CheckpointIn, MemberIn, RouteIn, ShiftIn, TeamIn
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, Person, TerritoryNode
from pingan.territory.schemas import NodeCreate, PersonCreate

STREET = "柳城街道"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    scope: tuple[str, ...]  # names from the street down


ACCOUNTS = (
    DemoAccount("jd_admin", "街道管理员（演示）", Role.street_admin, (STREET,)),
    DemoAccount("jd_operator", "街道综治中心值班员（演示）", Role.centre_operator, (STREET,)),
    DemoAccount("gh_admin", "光华社区管理员（演示）", Role.community_admin, (STREET, "光华社区")),
    DemoAccount("hg_admin", "红光社区管理员（演示）", Role.community_admin, (STREET, "红光社区")),
    DemoAccount(
        "yfl_operator",
        "鱼凫路社区综治中心值班员（演示）",
        Role.centre_operator,
        (STREET, "鱼凫路社区"),
    ),
    DemoAccount(
        "yfl_grid1",
        "鱼凫路第1网格网格员（演示）",
        Role.grid_officer,
        (STREET, "鱼凫路社区", "鱼凫路第1网格"),
    ),
    DemoAccount(
        "lxy_manager",
        "柳欣苑物业管理员（演示）",
        Role.site_manager,
        (STREET, "鱼凫路社区", "鱼凫路第1网格", "柳欣苑"),
    ),
    DemoAccount(
        "yfl_patrol", "鱼凫路社区巡逻队员（演示）", Role.patrol_member, (STREET, "鱼凫路社区")
    ),
    DemoAccount("jd_police", "辖区公安联络员（演示）", Role.police_liaison, (STREET,)),
    # The pilot's street chiefs (万盛, 和平) and the city-management officer of their streets.
    DemoAccount("ws_chief", "万盛片区街长（演示）", Role.street_chief, (STREET,)),
    DemoAccount("hp_chief", "和平片区街长（演示）", Role.street_chief, (STREET,)),
    DemoAccount("jd_city", "城管专员（演示）", Role.city_officer, (STREET,)),
    DemoAccount("jd_inspector", "街道安全检查员（演示）", Role.inspector, (STREET,)),
)


def _data(name: str) -> bytes:
    return resources.files("pingan.territory").joinpath("demo", name).read_bytes()


def _load_areas(session: Session, actor: Principal) -> None:
    collection = json.loads(_data("territory.geojson"))
    by_name: dict[str, int] = {}
    for feature in collection["features"]:
        props = feature["properties"]
        node = territory_service.create(
            session,
            actor=actor,
            data=NodeCreate(
                kind=NodeKind(props["kind"]),
                parent_id=by_name.get(props.get("parent", "")),
                name=props["name"],
                code=props.get("code"),
                address=props.get("address"),
                boundary=feature["geometry"],
            ),
        )
        by_name[node.name] = node.id


def load_territory(
    session: Session, *, actor: Principal, progress: Callable[[str], None] | None = None
) -> bool:
    """Load the demo territory unless it is there already. True when it was loaded now."""
    if territory_service.get_by_names(session, names=[STREET]) is not None:
        return False
    if progress:
        progress("territory.geojson")
    _load_areas(session, actor)
    for kind in (
        ImportKind.sites,
        ImportKind.buildings,
        ImportKind.households,
        ImportKind.residents,
    ):
        if progress:
            progress(f"{kind.value}.csv")
        import_service.run(
            session,
            actor=actor,
            kind=kind,
            data=_data(f"{kind.value}.csv"),
            filename=f"{kind.value}.csv",
        )
    return True


def _resident_account(session: Session) -> DemoAccount:
    site = territory_service.get_by_names(
        session, names=[STREET, "鱼凫路社区", "鱼凫路第1网格", "柳欣苑"]
    )
    assert site is not None
    household = session.scalar(
        select(TerritoryNode)
        .where(TerritoryNode.kind == NodeKind.household, TerritoryNode.path.startswith(site.path))
        .order_by(TerritoryNode.id)
    )
    assert household is not None
    building = session.get(TerritoryNode, household.parent_id)
    assert building is not None
    return DemoAccount(
        "lxy_resident",
        "柳欣苑居民（演示）",
        Role.resident,
        (STREET, "鱼凫路社区", "鱼凫路第1网格", "柳欣苑", building.name, household.name),
    )


def reset_accounts(session: Session, *, actor: Principal) -> list[tuple[DemoAccount, str]]:
    """Create the demo accounts, or give them new passwords; returns (account, password)."""
    out = []
    for account in (*ACCOUNTS, _resident_account(session)):
        node = territory_service.get_by_names(session, names=account.scope)
        if node is None:
            raise LookupError(f"demo scope {'/'.join(account.scope)} missing")
        password = generate_password()
        user = auth_service.get_by_username(session, username=account.username)
        # The demo resident is the first person of their household: their own pages show it.
        person_id = (
            session.scalar(select(Person.id).where(Person.node_id == node.id).order_by(Person.id))
            if account.role == Role.resident
            else None
        )
        if user is None:
            auth_service.create(
                session,
                actor=actor,
                data=UserCreate(
                    username=account.username,
                    display_name=account.display_name,
                    password=password,
                    roles=[BindingIn(role=account.role, node_id=node.id)],
                    person_id=person_id,
                ),
            )
        else:
            auth_service.set_password(session, user=user, password=password)
            auth_service.revoke_all(session, user_id=user.id)
        out.append((account, password))
    session.flush()
    load_patrol(session, actor=actor)
    meta.put(session, "demo", "1")
    return out


PATROL_TEAM = "鱼凫路红袖套志愿巡逻队"


def load_patrol(session: Session, *, actor: Principal) -> None:
    """A volunteer team of 鱼凫路社区 led by the demo patrol member, a night route round 柳欣苑,
    and a shift from now on (renewed by each `demo-data`), so the phone page has work at once."""
    community = territory_service.get_by_names(session, names=[STREET, "鱼凫路社区"])
    site = territory_service.get_by_names(
        session, names=[STREET, "鱼凫路社区", "鱼凫路第1网格", "柳欣苑"]
    )
    user = auth_service.get_by_username(session, username="yfl_patrol")
    if community is None or site is None or user is None:
        return
    team = session.scalar(select(Team).where(Team.name == PATROL_TEAM))
    if team is None:
        team = patrol_service.create_team(
            session,
            actor=actor,
            data=TeamIn(kind=TeamKind.volunteers, name=PATROL_TEAM, node_id=community.id),
        )
        person = territory_service.create_person(
            session, actor=actor, data=PersonCreate(node_id=site.id, name="王秀英（演示）")
        )
        patrol_service.add_member(
            session,
            actor=actor,
            team_id=team.id,
            data=MemberIn(person_id=person.id, user_id=user.id, leader=True, programme="红袖套"),
        )
        lon, lat = site.lon or 103.792, site.lat or 30.682
        patrol_service.create_route(
            session,
            actor=actor,
            data=RouteIn(
                team_id=team.id,
                name="柳欣苑夜巡",
                duration_min=45,
                checkpoints=[
                    CheckpointIn(name="东门岗亭", lon=lon + 0.0004, lat=lat, due_min=10),
                    CheckpointIn(name="北侧围墙", lon=lon, lat=lat + 0.0006, due_min=25),
                    CheckpointIn(name="地下车库入口", lon=lon - 0.0004, lat=lat, due_min=40),
                ],
            ),
        )
    member = session.scalar(select(Member).where(Member.team_id == team.id))
    if member is not None:
        now = utcnow()
        patrol_service.add_shift(
            session,
            actor=actor,
            team_id=team.id,
            data=ShiftIn(
                member_id=member.id,
                starts_at=now - timedelta(minutes=5),
                ends_at=now + timedelta(hours=12),
                note="演示班次",
            ),
        )
