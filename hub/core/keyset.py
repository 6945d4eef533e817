"""Keyset paging: a page starts strictly after the sort key of the last row the client saw, so rows inserted
meanwhile never shift or repeat what follows (as offsets would). The cursor handed to clients is that key,
encoded opaquely (URL-safe base64 of a JSON list); clients pass it back unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

Key = tuple[Any, ...]
Order = Sequence[tuple[Any, bool]]  # (SQL expression, descending)
T = TypeVar("T")
MAX_CURSOR = 600


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, types: Sequence[type]) -> Key:
    """The key a cursor holds, checked against `types` (str, int, datetime; datetimes as naive UTC).
    Raises ValueError when it is not one this server wrote for that list."""
    if len(text) > MAX_CURSOR:
        raise ValueError("too long")
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor") from None
    if not isinstance(values, list) or len(values) != len(types):
        raise ValueError("not a cursor of this list")
    out: list[Any] = []
    for v, t in zip(values, types, strict=True):
        if t is datetime:
            if not isinstance(v, str):
                raise ValueError("bad time")
            out.append(datetime.fromisoformat(v))
        elif t is int:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError("bad number")
            out.append(v)
        elif not isinstance(v, t):
            raise ValueError("bad value")
        else:
            out.append(v)
    return tuple(out)


def after(order: Order, key: Key) -> ColumnElement[bool]:
    """SQL condition: rows that come strictly after `key` in `order` (each column ascending or descending).
    Every expression must be non-null (use coalesce) so the comparison is total."""
    clauses = []
    for i, (expr, desc) in enumerate(order):
        equal = [e == v for (e, _), v in zip(order[:i], key[:i], strict=True)]
        clauses.append(and_(*equal, expr < key[i] if desc else expr > key[i]))
    return or_(*clauses)


def order_by(order: Order) -> list[Any]:
    return [e.desc() if desc else e.asc() for e, desc in order]


def page(rows: Sequence[T], limit: int, key_of: Callable[[T], Key]) -> tuple[list[T], str | None]:
    """`rows` fetched with LIMIT limit + 1: the page and the cursor of the next one (None on the last page)."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return items, encode_cursor(key_of(items[-1])) if more else None
