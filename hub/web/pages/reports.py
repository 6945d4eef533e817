"""/reports: the availability report page (same numbers as /api/v1/reports, with CSV links)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hub.core import reports
from hub.web import params, queries
from hub.web.access import Perm, principal, requires
from hub.web.api.report_query import load_maintenance, load_report
from hub.web.context import ctx
from hub.web.render import render, scope_label
from hub.web.report_format import area_dict, camera_dict, outage_dict, period_dict

# page -------------------------------------------------------------------------------------------------------

PAGE_PARAMS = ("period", "date", "from", "to", "district", "commune")
PAGE_OUTAGES = 200


@requires(Perm.VIEW_REPORTS)
async def report_page(request: web.Request) -> web.Response:
    """/reports: the same numbers for people, with CSV links carrying the same query."""
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, PAGE_PARAMS)
    q, cams, changes, names = await load_report(request)
    held = await load_maintenance(request, q, cams)

    def build() -> dict[str, Any]:
        rep = reports.uptime(cams, changes, q.period, held)
        items = reports.outages(changes, q.period)
        cam_names = {x.key: x.name for x in cams}
        return {
            "total": area_dict(rep.total, names),
            "districts": [area_dict(a, names) for a in rep.districts],
            "communes": [area_dict(a, names) for a in rep.communes],
            "worst": [camera_dict(x) for x in reports.worst(rep.cameras, 10)],
            "outages": [outage_dict(o, cam_names) for o in items[:PAGE_OUTAGES]],
            "outage_total": len(items),
        }

    data = await asyncio.to_thread(build)
    query = request.query_string
    return render(
        request,
        "reports.html",
        period=period_dict(q.period, c.tz),
        form={k: request.query.get(k, "") for k in PAGE_PARAMS},
        periods=reports.PERIODS,
        areas=await c.db.run(lambda s: queries.list_areas(s, p, c.config)),
        csv_uptime="/api/v1/reports/uptime.csv" + (f"?{query}" if query else ""),
        csv_outages="/api/v1/reports/outages.csv" + (f"?{query}" if query else ""),
        scope_label=scope_label(p, names),
        commune_names={f"{d}/{co}": n for (d, co), n in names.items() if co},
        **data,
    )
