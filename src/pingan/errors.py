"""Domain errors. One handler in app.py renders them as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class PinganError(Exception):
    status = 400
    key = "bad_request"

    def __init__(
        self,
        key: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> None:
        self.key = key or self.key
        self.field = field
        self.params = params
        self.errors = errors or []
        self.headers = headers or {}
        super().__init__(f"{self.key} {params}" if params else self.key)


class NotFound(PinganError):
    status = 404
    key = "not_found"


class Invalid(PinganError):
    status = 422
    key = "validation"


class Conflict(PinganError):
    status = 409
    key = "conflict"


class Unauthenticated(PinganError):
    status = 401
    key = "unauthenticated"


class Forbidden(PinganError):
    status = 403
    key = "forbidden"


class RateLimited(PinganError):
    status = 429
    key = "rate_limited"


class TooLarge(PinganError):
    status = 413
    key = "too_large"


class DataKeyMissing(PinganError):
    """No PINGAN_DATA_KEY: faces and device secrets cannot be stored."""

    status = 503
    key = "data_key"
