"""Query-parameter parsing: every bad value becomes a 400 that names the parameter."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from contract.topics import is_slug
from hub.core.keyset import Key, decode_cursor
from hub.web.errors import bad_parameter, unprocessable

_PLUS_AS_SPACE = re.compile(r" (\d\d:?\d\d)$")
_LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60")
SLUG_PATTERN = "[a-z0-9][a-z0-9_-]{0,63}"
EPOCH_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,6})?$"

# Schemas of the query values the helpers below read, for the OpenAPI document.
SLUG: dict[str, Any] = {"type": "string", "pattern": f"^{SLUG_PATTERN}$"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
TIME: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "pattern": EPOCH_PATTERN}],
    "description": "ISO 8601 / RFC 3339 with an offset (a '+' sent unencoded, read as a space, still counts), "
    "or epoch seconds",
}


def is_time_schema(schema: dict[str, Any]) -> bool:
    return bool(schema.get("anyOf") == TIME["anyOf"])


def plus_restored(value: str) -> str:
    """An unencoded '+' in a query string arrives as a space: "…T08:00:00 07:00" means +07:00."""
    return _PLUS_AS_SPACE.sub(r"+\1", value)


def one(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise bad_parameter(name, "chỉ được cho một lần")
    return values[0] if values else None


def text(request: web.Request, name: str, max_len: int = 200) -> str | None:
    v = one(request, name)
    if v is None or v.strip() == "":
        return None
    if len(v) > max_len:
        raise bad_parameter(name, f"dài quá {max_len} ký tự")
    return v.strip()


def slug(request: web.Request, name: str) -> str | None:
    v = one(request, name)
    if v is None or v == "":
        return None
    if not is_slug(v):
        raise bad_parameter(name, f"{v[:70]!r} không phải mã hợp lệ (chữ thường, số, '_' hoặc '-')")
    return v


def choice(request: web.Request, name: str, allowed: Collection[str]) -> str | None:
    v = one(request, name)
    if v is None or v == "":
        return None
    if v not in allowed:
        raise bad_parameter(name, f"{v[:70]!r} (cho phép: {', '.join(allowed)})")
    return v


def integer(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    v = one(request, name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise bad_parameter(name, f"{v[:70]!r} không phải số nguyên") from None
    if not lo <= n <= hi:
        raise bad_parameter(name, f"phải từ {lo} đến {hi}")
    return n


def boolean(request: web.Request, name: str, default: bool) -> bool:
    v = one(request, name)
    if v is None or v == "":
        return default
    if v.lower() in ("1", "true", "yes"):
        return True
    if v.lower() in ("0", "false", "no"):
        return False
    raise bad_parameter(name, f"{v[:70]!r} (cho phép: true, false, 1, 0)")


def parse_time(value: str) -> datetime:
    """ISO 8601 / RFC 3339 with an offset (or Z), or epoch seconds → naive UTC as stored. Raises ValueError,
    also for a well-formed time outside what Python's datetime holds (year 0, past year 9999 in UTC)."""
    try:
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        pass
    # RFC 3339 allows 't'/'z' and a leap second (:60, read as :59); Python's parser takes neither.
    text = _LEAP_SECOND.sub(r"\1:59", plus_restored(value).upper())
    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            raise ValueError("thiếu múi giờ (thêm Z hoặc +07:00)")
        return dt.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("ngoài khoảng thời gian hỗ trợ") from None


def time(request: web.Request, name: str) -> datetime | None:
    v = one(request, name)
    if v is None or v == "":
        return None
    try:
        return parse_time(v)
    except ValueError as exc:
        if is_well_formed_time(v):  # the document's form, a time that cannot be (year 0, 24:00…)
            raise unprocessable(name, f"{v[:70]!r}: {exc}") from None
        raise bad_parameter(
            name, f"{v[:70]!r}: cần thời điểm ISO 8601 có múi giờ hoặc giây epoch ({exc})"
        ) from None


_WELL_FORMED_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def is_well_formed_time(value: str) -> bool:
    return _WELL_FORMED_TIME.fullmatch(plus_restored(value)) is not None


def day(request: web.Request, name: str) -> date | None:
    """A local calendar day, YYYY-MM-DD (the document's `format: date`)."""
    v = one(request, name)
    if v is None or v.strip() == "":
        return None
    try:
        return date.fromisoformat(v.strip())
    except ValueError as exc:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v.strip()):  # well-formed: year 0000 cannot be
            raise unprocessable(name, f"{v[:20]!r}: {exc}") from None
        raise bad_parameter(name, f"{v[:40]!r}: cần ngày dạng YYYY-MM-DD") from None


def reject_unknown(request: web.Request, known: Collection[str]) -> None:
    for name in request.query:
        if name not in known:
            raise bad_parameter(name, "tham số không được hỗ trợ ở đây")


def cursor(request: web.Request, types: Sequence[type], name: str = "cursor") -> Key | None:
    """A keyset cursor (hub/core/keyset.py) this list handed out as `next_cursor`, or None."""
    v = one(request, name)
    if v is None or v == "":
        return None
    try:
        return decode_cursor(v, types)
    except ValueError:
        # The document's form (CURSOR) but not a key this list handed out: refused on meaning.
        raise unprocessable(name, "không đúng; dùng nguyên giá trị next_cursor của trang trước") from None
