"""Phone and identity-card numbers as every answer and page shows them: masked. The whole number
is read only through its own audited route, by the roles that need it (people:phone,
people:id_number)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer


def mask(value: str) -> str:
    """Keep the first 3 and last 4 characters: enough to tell records apart, not to use them."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_optional(value: str | None) -> str | None:
    return mask(value) if value else value


# An output field holding such a number: masked whenever it is serialised.
MaskedNumber = Annotated[
    str | None, PlainSerializer(mask_optional, return_type=str | None, when_used="always")
]


class NumberOut(BaseModel):
    """One whole number, read on purpose (and written to the audit log)."""

    field: str = Field(description="phone, id_number or contact_phone")
    value: str | None
