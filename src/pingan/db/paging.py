"""One page of a query and the total it was cut from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def paginate(
    session: Session,
    stmt: Select[T],
    *,
    order_by: Any,
    limit: int,
    offset: int,
    # order_by: one column expression, or a tuple of them
) -> tuple[Sequence[T], int]:
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(*order_by) if isinstance(order_by, tuple) else stmt.order_by(order_by)
    rows = session.scalars(ordered.limit(limit).offset(offset)).all()
    return rows, total


def page_count(total: int, size: int) -> int:
    """How many pages of `size` the total fills (one, when there is nothing)."""
    return max(1, -(-total // size))
