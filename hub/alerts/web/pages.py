"""/alerts (list, live), /alerts/silences (silences and maintenance windows), /alerts/rules (per-district
settings). The pages carry their first data as JSON; alerts.js renders it and talks to /api/v1 for changes."""

from __future__ import annotations

from aiohttp import web

from hub.alerts import queries as q
from hub.alerts.config import alerts_settings
from hub.alerts.labels import KIND_LABELS, SEVERITY_LABELS, STATUS_LABELS
from hub.alerts.silences import SILENCE_TYPES
from hub.alerts.web.requests import KINDS, SEVERITIES
from hub.alerts.web.rules import rules_view
from hub.core.config import CoreConfig
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, requires
from hub.web.context import ctx
from hub.web.render import render, scope_label

LIST_PARAMS = ("status", "district", "commune", "kind", "severity")
OUTBOX_PATH = "/alerts/outbox"  # the notifier's page (hub/notify)


def _labels() -> dict[str, dict[str, str]]:
    return {
        "kind": {str(k): v for k, v in KIND_LABELS.items()},
        "severity": {str(k): v for k, v in SEVERITY_LABELS.items()},
        "status": STATUS_LABELS,
        "silence_type": {"silence": "Tắt cảnh báo", "maintenance": "Bảo trì"},
    }


@requires(Perm.VIEW_ALERTS)
async def alerts_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, LIST_PARAMS)
    f = q.AlertFilter(
        status=params.choice(request, "status", (*q.STATUSES, "active")),
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        kind=params.choice(request, "kind", KINDS),
        severity=params.choice(request, "severity", SEVERITIES),
    )
    data, areas, names = await c.db.run(
        lambda s: (
            q.list_alerts(s, p, f, 1000),
            queries.list_areas(s, p, c.config),
            queries.area_names(s, c.config),
        )
    )
    return render(
        request,
        "alerts.html",
        form={k: request.query.get(k, "") for k in LIST_PARAMS},
        areas=areas,
        kinds=KINDS,
        severities=SEVERITIES,
        labels_alerts=_labels(),
        page_data={
            "alerts": data,
            "query": request.query_string,
            "can_ack": has_perm(p, Perm.ACK_ALERTS),
            "can_silence": has_perm(p, Perm.SILENCE_ALERTS),
            "labels": _labels(),
            "areas": {f"{d}/{co}": n for (d, co), n in names.items()},
            "timezone": c.config.timezone,
        },
        can_silence=has_perm(p, Perm.SILENCE_ALERTS),
        can_edit_rules=has_perm(p, Perm.EDIT_ALERT_RULES),
        outbox_path=OUTBOX_PATH,
        scope_label=scope_label(p, names),
    )


SILENCE_PREFILL = ("district", "commune", "kind", "device")


@requires(Perm.VIEW_ALERTS)
async def silences_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, (*SILENCE_PREFILL, "all"))
    show_all = params.boolean(request, "all", False)
    prefill = {k: params.text(request, k, 300) or "" for k in SILENCE_PREFILL}
    now = c.clock()
    items, areas, names = await c.db.run(
        lambda s: (
            q.list_silences(s, p, not show_all, now, 1000)[0],
            queries.list_areas(s, p, c.config),
            queries.area_names(s, c.config),
        )
    )
    return render(
        request,
        "alerts_silences.html",
        prefill=prefill,
        show_all=show_all,
        areas=areas,
        kinds=KINDS,
        types=SILENCE_TYPES,
        labels_alerts=_labels(),
        can_silence=has_perm(p, Perm.SILENCE_ALERTS),
        page_data={
            "silences": items,
            "labels": _labels(),
            "can_silence": has_perm(p, Perm.SILENCE_ALERTS),
            "areas": {f"{d}/{co}": n for (d, co), n in names.items()},
        },
        scope_label=scope_label(p, names),
    )


@requires(Perm.EDIT_ALERT_RULES)
async def rules_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ("district",))
    names = await c.db.run(lambda s: queries.area_names(s, c.config))
    districts = sorted({d for (d, co) in names if not co} | set(c.config.districts))
    if p.district is not None:
        districts = [p.district]
    district = params.slug(request, "district") or (districts[0] if districts else None)
    view = None
    if district is not None:
        if p.district is not None and district != p.district:
            district = p.district
        overrides = await c.db.run(lambda s: q.overrides_of(s, district))
        view = rules_view(alerts_settings(c.config).rules, overrides, district)
    return render(
        request,
        "alerts_rules.html",
        districts=[(d, names.get((d, ""), d)) for d in districts],
        district=district,
        view=view,
        severities=SEVERITIES,
        labels_alerts=_labels(),
        page_data={"district": district, "view": view},
        scope_label=scope_label(p, names),
    )


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app.router.add_get("/alerts", alerts_page)
    app.router.add_get("/alerts/silences", silences_page)
    app.router.add_get("/alerts/rules", rules_page)
