"""Who is acting and where: the scopes of a user's role bindings, as territory paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import InstrumentedAttribute

from pingan.auth.roles import PERMISSIONS, RANK, Perm, Role
from pingan.errors import Forbidden, NotFound
from pingan.i18n import Phrase


@dataclass(frozen=True)
class Grant:
    role: Role
    path: str  # the bound node's path, "/1/7/"


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    name: str
    grants: tuple[Grant, ...] = field(default=())
    system: bool = False  # the CLI and workers act everywhere
    person_id: int | None = None  # the resident this account is, for their own pages
    must_change_password: bool = False  # a generated password: nothing else until it is changed

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}:{self.name}" if self.user_id else self.name

    def paths(self, perm: Perm | None = None) -> list[str]:
        """Scope paths where this principal holds perm (any role when perm is None)."""
        return [g.path for g in self.grants if perm is None or perm in PERMISSIONS[g.role]]

    def sees(self, path: str | None) -> bool:
        if self.system:
            return True
        return path is not None and any(path.startswith(p) for p in self.paths())

    def can(self, perm: Perm, path: str | None) -> bool:
        if self.system:
            return True
        return path is not None and any(path.startswith(p) for p in self.paths(perm))

    def require(self, perm: Perm, path: str | None, what: str | Phrase) -> None:
        """Outside every scope: 404, so existence does not leak; inside but not allowed: 403."""
        if not self.sees(path):
            raise NotFound(what=what)
        if not self.can(perm, path):
            raise Forbidden(action=perm.value)

    def filter(
        self, column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None], perm: Perm
    ) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose path column lies inside a scope holding perm."""
        if self.system:
            return column.is_not(None)
        paths = self.paths(perm)
        if not paths:
            return false()
        return or_(*[column.startswith(p, autoescape=True) for p in _outermost(paths)])

    def max_rank_at(self, path: str) -> int:
        if self.system:
            return max(RANK.values())
        ranks = [
            RANK[g.role]
            for g in self.grants
            if path.startswith(g.path) and Perm.users_write in PERMISSIONS[g.role]
        ]
        return max(ranks, default=-1)

    def holds(self, *perms: Perm) -> bool:
        """Any of these permissions, somewhere in scope: what a page offers this viewer."""
        return self.system or any(self.paths(p) for p in perms)

    def is_root_admin(self) -> bool:
        """Bound at a top node (a street) with audit rights: sees entries with no territory."""
        return self.system or any(
            g.path.count("/") == 2 and Perm.audit_read in PERMISSIONS[g.role] for g in self.grants
        )


def _outermost(paths: list[str]) -> list[str]:
    kept: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept


SYSTEM = Principal(user_id=None, name="system", system=True)


def cli_principal(name: str = "cli") -> Principal:
    return Principal(user_id=None, name=name, system=True)
