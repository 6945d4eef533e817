"""GET /api/v1/broadcasts/airings/export: the airing reports of a period for upward reporting, in the caller's
scope, as JSON (docs/schemas/airings-export.schema.json) or CSV (one row per airing). Documented in
docs/BROADCAST.md."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from broadcast.airings import export
from broadcast.airings.models import Airing
from hub.core.openapi import ApiRoute, Param
from hub.web import params
from hub.web.access import Perm, principal, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import unprocessable
from hub.web.jsonout import json_response

MAX_SPAN = timedelta(days=366)


@requires(Perm.VIEW_BROADCASTS)
async def export_airings(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    start, end = params.time(request, "from"), params.time(request, "to")
    fmt = params.choice(request, "format", ("json", "csv")) or "json"
    if start is None:
        raise unprocessable("from", "cần thời điểm bắt đầu")
    if end is None:
        raise unprocessable("to", "cần thời điểm kết thúc")
    if end <= start:
        raise unprocessable("to", "phải sau 'from'")
    if end - start > MAX_SPAN:
        raise unprocessable("to", "khoảng thời gian tối đa 366 ngày")

    def load(s: Session) -> list[dict[str, Any]]:
        return export.export_records(s, start, end, scope_where(p, Airing.district, Airing.commune))

    try:
        records = await c.db.run(load)
    except export.TooManyRows as exc:
        raise unprocessable("to", str(exc)) from None
    if fmt == "csv":
        name = f"luot-phat-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        return web.Response(
            body=export.export_csv(records),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return json_response(export.export_document(records, start, end, c.clock()))


ROUTES = [
    ApiRoute(
        "GET",
        "/broadcasts/airings/export",
        export_airings,
        "Airing reports of a period for upward reporting (schema: docs/schemas/airings-export.schema.json)",
        params=(
            Param("from", "Airings planned from (inclusive)", params.TIME, required=True),
            Param(
                "to",
                "Up to (exclusive); 422 when not after from or more than 366 days later",
                params.TIME,
                required=True,
            ),
            Param("format", "json (default) or csv (one row per airing)", {"enum": ["json", "csv"]}),
        ),  # fmt: skip
        response={k: v for k, v in export.EXPORT_SCHEMA.items() if not k.startswith("$")},
        alternatives={"text/csv": {"type": "string"}},
        errors=(400, 401, 403, 422),
    )
]
