"""Running the platform without a terminal: accounts and their roles, the audit log, and one's
own password. The pages read through the auth and territory services and write through the API,
so scope, rank and audit apply as they do to every caller."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from pingan.alarms.api import channel_out
from pingan.alarms.notify import store
from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import LABEL as ROLE_LABEL
from pingan.auth.roles import Perm, Role
from pingan.db.base import day_start
from pingan.db.paging import page_count
from pingan.errors import PinganError
from pingan.i18n import N_
from pingan.imports import service as import_service
from pingan.imports.service import IMPORT_LABEL
from pingan.masking import mask
from pingan.territory import service as territory_service
from pingan.territory.models import KIND_LABEL, NodeKind

if TYPE_CHECKING:
    from pingan.web.pages import Pages

PAGE = 50
# What an audit entry's action means, in words (the stored key is shown beside it).
ACTION_WORDS = {
    "create": N_("新建"),
    "update": N_("修改"),
    "delete": N_("删除"),
    "read": N_("查看档案"),
    "search": N_("查询名单"),
    "reveal": N_("查看完整号码"),
    "face_search": N_("以脸搜人"),
    "view": N_("查看画面"),
    "login": N_("登录"),
    "password": N_("设置密码"),
    "refused": N_("被拒绝"),
    "credentials": N_("发放凭据"),
    "backup": N_("备份"),
    "restore": N_("恢复备份"),
}
# Where roles are bound: the levels an account's work is done at.
BINDABLE = [NodeKind.street, NodeKind.community, NodeKind.grid, NodeKind.site]


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/admin", include_in_schema=False)
    def admin_home(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.users_read))
    ) -> Response:
        return pages.render(
            request,
            "admin.html",
            principal=principal,
            can_audit=principal.holds(Perm.audit_read),
            can_import=principal.holds(Perm.territory_write),
            can_channels=principal.holds(Perm.channels_manage),
        )

    @app.get("/admin/users", include_in_schema=False)
    def users_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.users_read)),
        q: str = "",
        role: Role | None = None,
        page: int = 1,
    ) -> Response:
        page = max(page, 1)
        with pages.session(principal, request) as session:
            users, total = auth_service.get_all(
                session,
                actor=principal,
                q=q.strip() or None,
                role=role,
                limit=PAGE,
                offset=(page - 1) * PAGE,
            )
            places = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=BINDABLE, perm=Perm.users_write
            )
            names = territory_service.names(
                session, node_ids=[b.node_id for u in users for b in u.bindings]
            )
            return pages.render(
                request,
                "admin_users.html",
                principal=principal,
                users=users,
                total=total,
                page=page,
                pages_total=page_count(total, PAGE),
                q=q,
                role=role.value if role else "",
                roles=list(Role),
                grantable=auth_service.grantable(principal),
                role_label=ROLE_LABEL,
                places=places,
                kind_label=KIND_LABEL,
                names=names,
                mask=mask,
                can_write=principal.holds(Perm.users_write),
            )

    @app.get("/admin/users/{user_id}", include_in_schema=False)
    def user_page(
        request: Request,
        user_id: int,
        principal: Principal = Depends(pages.viewer(Perm.users_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                user = auth_service.get_visible_or_raise(session, actor=principal, user_id=user_id)
            except PinganError:
                return pages.not_found(request, principal, f"#{user_id}")
            places = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=BINDABLE, perm=Perm.users_write
            )
            names = territory_service.names(session, node_ids=[b.node_id for b in user.bindings])
            logins, _n = auth_service.audit_entries(
                session, actor=principal, entity="users", entity_id=str(user.id), limit=10
            )
            return pages.render(
                request,
                "admin_user.html",
                principal=principal,
                account=user,
                grantable=auth_service.grantable(principal),
                role_label=ROLE_LABEL,
                places=places,
                kind_label=KIND_LABEL,
                names=names,
                history=logins,
                mask=mask,
                can_write=principal.holds(Perm.users_write),
            )

    @app.get("/admin/audit", include_in_schema=False)
    def audit_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.audit_read)),
        who: str = "",
        action: str = "",
        entity: str = "",
        entity_id: str = "",
        start: date | None = None,
        end: date | None = None,
        reads: bool = False,
        page: int = 1,
    ) -> Response:
        page = max(page, 1)
        until = day_start(end + timedelta(days=1)) if end else None
        with pages.session(principal, request) as session:
            entries, total = auth_service.audit_entries(
                session,
                actor=principal,
                who=who.strip() or None,
                action=action.strip() or None,
                entity=entity.strip() or None,
                entity_id=entity_id.strip() or None,
                since=day_start(start) if start else None,
                until=until,
                reads=True if reads else None,
                limit=PAGE,
                offset=(page - 1) * PAGE,
            )
            return pages.render(
                request,
                "admin_audit.html",
                principal=principal,
                entries=entries,
                total=total,
                page=page,
                pages_total=page_count(total, PAGE),
                action_words=ACTION_WORDS,
                as_text=lambda data: json.dumps(data, ensure_ascii=False)[:300],
                filters={
                    "who": who,
                    "action": action,
                    "entity": entity,
                    "entity_id": entity_id,
                    "start": start.isoformat() if start else "",
                    "end": end.isoformat() if end else "",
                    "reads": reads,
                },
            )

    @app.get("/admin/imports", include_in_schema=False)
    def imports_page(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.territory_write))
    ) -> Response:
        may_people = principal.holds(Perm.people_write)
        kinds = [
            {
                "kind": kind.value,
                "label": IMPORT_LABEL[kind],
                "columns": [c.label for c in import_service.COLUMNS[kind]],
                "has_position": any(c.key == "lon" for c in import_service.COLUMNS[kind]),
            }
            for kind in import_service.ImportKind
            if kind != import_service.ImportKind.residents or may_people
        ]
        return pages.render(request, "admin_imports.html", principal=principal, kinds=kinds)

    @app.get("/admin/channels", include_in_schema=False)
    def channels_page(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.channels_manage))
    ) -> Response:
        rules = app.state.runtime.rules
        with pages.session(principal, request) as session:
            records = store.get_all(session)
            return pages.render(
                request,
                "admin_channels.html",
                principal=principal,
                channels=[channel_out(r) for r in records],
                from_file=rules.current.channels,
                unknown=store.unknown_names(session, rules=rules),
                types=["wecom", "dingtalk", "webhook", "email", "sms"],
            )

    @app.get("/account/password", include_in_schema=False)
    def password_page(request: Request, principal: Principal = Depends(pages.viewer())) -> Response:
        return pages.render(
            request,
            "password.html",
            principal=principal,
            forced=principal.must_change_password,
            next=request.query_params.get("next", ""),
        )
