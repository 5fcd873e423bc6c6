from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pingan.auth.roles import Role
from pingan.masking import MaskedNumber


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class BindingIn(Strict):
    role: Role
    node_id: int


class BindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    role: Role
    node_id: int


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    password: str | None = Field(
        None,
        min_length=10,
        max_length=256,
        description="Leave out for a generated first password, shown once in the answer; the "
        "holder then chooses their own at first log-in",
    )
    phone: str | None = Field(None, max_length=20)
    person_id: int | None = None
    roles: list[BindingIn] = Field(min_length=1)


class UserUpdate(Strict):
    display_name: str | None = Field(None, min_length=1, max_length=100)
    password: str | None = Field(None, min_length=10, max_length=256)
    phone: str | None = Field(None, max_length=20)
    is_active: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    phone: MaskedNumber
    is_active: bool
    person_id: int | None
    last_login_at: datetime | None
    must_change_password: bool = False
    bindings: list[BindingOut]


class UserCreated(UserOut):
    first_password: str | None = Field(
        None, description="The generated first password: shown this once, to hand over"
    )


class PasswordOut(BaseModel):
    password: str = Field(description="The generated password: shown this once, to hand over")


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=10, max_length=256)


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    days: int | None = Field(None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown once; send as `Authorization: Bearer <token>`")


class LoginOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    entity: str
    entity_id: str | None
    scope_path: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    ip: str | None
    note: str | None
