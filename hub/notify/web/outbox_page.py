"""/alerts/outbox: the Zalo outbox for people — what went out, what waits (retry, quiet hours), what failed and
why, what a dry run would have sent — with "Gửi lại" for those who may acknowledge alerts."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from hub.core.config import CoreConfig
from hub.core.facts import FactKind
from hub.notify.models import CHANNELS, RETRYABLE, STATES
from hub.notify.render import KIND_LABELS, SEVERITY_LABELS, area_label
from hub.notify.web.api import (
    CHANNEL_LABELS,
    STATE_LABELS,
    channel_status,
    list_rows,
    replace_oa_refresh_token,
    retry_row,
    valid_refresh_token,
)
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, requires
from hub.web.context import ctx
from hub.web.render import render

PAGE_SIZE = 100
PAGE_PARAMS = ("state", "channel", "before")
KIND_TEXT = {**{str(k): v for k, v in KIND_LABELS.items()}, "digest": "Báo cáo hằng ngày"}
assert all(str(k) in KIND_TEXT for k in FactKind)


@requires(Perm.VIEW_ALERTS)
async def outbox_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, PAGE_PARAMS)
    state = params.choice(request, "state", STATES)
    channel = params.choice(request, "channel", CHANNELS)
    before = params.integer(request, "before", 0, 1, 10**12) or None
    rows, counts = await c.db.run(lambda s: list_rows(s, p, state, channel, None, None, before, PAGE_SIZE))
    names = await c.db.run(lambda s: queries.area_names(s, c.config))
    base = {k: v for k, v in (("state", state), ("channel", channel)) if v}
    older = None
    if len(rows) == PAGE_SIZE:
        older = "/alerts/outbox?" + urlencode({**base, "before": rows[-1].id})
    return render(
        request,
        "outbox.html",
        rows=rows,
        counts=counts,
        total=sum(counts.values()),
        channels=await channel_status(request),
        form={"state": state or "", "channel": channel or ""},
        states=STATE_LABELS,
        channel_labels=CHANNEL_LABELS,
        kind_labels=KIND_TEXT,
        severity_labels={str(k): v for k, v in SEVERITY_LABELS.items()},
        area=lambda d, co: area_label(names, d, co),
        can_retry=has_perm(p, Perm.ACK_ALERTS),
        can_set_token=has_perm(p, Perm.EDIT_ALERT_RULES),
        retryable=RETRYABLE,
        back="/alerts/outbox" + ("?" + urlencode(base) if base else ""),
        older=older,
    )


@requires(Perm.EDIT_ALERT_RULES)
async def outbox_oa_token(request: web.Request) -> web.Response:
    form = await request.post()
    await replace_oa_refresh_token(request, valid_refresh_token(form.get("refresh_token")))
    return web.Response(status=303, headers={"Location": "/alerts/outbox"})


@requires(Perm.ACK_ALERTS)
async def outbox_retry(request: web.Request) -> web.Response:
    await retry_row(request)
    form = await request.post()
    back = str(form.get("back", ""))
    if not back.startswith("/alerts/outbox") or "//" in back or "\\" in back:
        back = "/alerts/outbox"
    return web.Response(status=303, headers={"Location": back})


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app.router.add_get("/alerts/outbox", outbox_page)
    app.router.add_post(r"/alerts/outbox/{id:\d{1,12}}/retry", outbox_retry)
    app.router.add_post("/alerts/outbox/oa-token", outbox_oa_token)
