"""/api/v1/notifications…: the Zalo outbox (what was, will be or would have been sent), its channels, and
"send again" for failed, dead or in-doubt rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from hub.core.audit import record_change
from hub.core.auth import Principal
from hub.core.config import CoreConfig
from hub.core.facts import FactKind
from hub.core.openapi import ApiRoute, Param, json_body
from hub.core.serialize import iso
from hub.notify import outbox
from hub.notify.config import notify_settings
from hub.notify.models import CHANNEL_BOT, CHANNEL_OA, CHANNELS, RETRYABLE, STATES, ChannelToken, OutboxRow
from hub.notify.service import NOTIFIER
from hub.notify.tokens import TokenStore
from hub.web import params
from hub.web.access import Perm, principal, requires, scope_where
from hub.web.context import ctx
from hub.web.errors import ApiError, bad_parameter, not_found
from hub.web.jsonout import json_response

MAX_LIMIT = 500
ROW_PATH = r"/notifications/{id:\d{1,12}}"

STATE_LABELS = {
    "pending": "Chờ gửi",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "failed": "Lỗi, không thử lại",
    "dead": "Hết lượt thử",
    "unknown": "Không rõ đã tới chưa",
    "dry_run": "Chạy thử (không gửi)",
    "unrouted": "Không có nơi nhận",
}
assert set(STATE_LABELS) == set(STATES)
CHANNEL_LABELS = {CHANNEL_OA: "Nhóm Zalo OA", CHANNEL_BOT: "Zalo Bot", "none": "—"}
MODE_LABELS = {
    "live": "Đang gửi thật",
    "dry_run": "Chạy thử (chưa có khoá)",
    "blocked": "Dừng: cần cấp quyền lại",
}


def visible(p: Principal) -> ColumnElement[bool]:
    """Rows in the caller's scope, plus the channel-failure rows (about no area): a district user must see that
    messages are not getting through. A digest spanning several districts has no district: province-wide only."""
    about_channel = and_(OutboxRow.district == "", OutboxRow.kind == str(FactKind.CHANNEL_FAILING))
    return or_(about_channel, scope_where(p, OutboxRow.district, OutboxRow.commune))


def row_to_dict(r: OutboxRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "event_id": r.event_id,
        "channel": r.channel,
        "target": r.target,
        "target_name": r.target_name,
        "route": r.route,
        "kind": r.kind,
        "severity": r.severity,
        "notice_status": r.notice_status,
        "district": r.district,
        "commune": r.commune,
        "text": r.text,
        "snapshot_camera": r.snapshot_camera,
        "image": r.image,
        "state": r.state,
        "attempts": r.attempts,
        "doubtful": r.doubtful,
        "created_at": iso(r.created_at),
        "next_try_at": iso(r.next_try_at),
        "held_until": iso(r.held_until),
        "sent_at": iso(r.sent_at),
        "last_error": r.last_error,
        "last_code": r.last_code,
        "message_id": r.message_id,
    }


def list_rows(
    s: Session,
    p: Principal,
    state: str | None,
    channel: str | None,
    district: str | None,
    commune: str | None,
    before: int | None,
    limit: int,
) -> tuple[list[OutboxRow], dict[str, int]]:
    conds: list[ColumnElement[bool]] = [visible(p)]
    if district:
        conds.append(OutboxRow.district == district)
    if commune:
        conds.append(OutboxRow.commune == commune)
    if channel:
        conds.append(OutboxRow.channel == channel)
    counts = {
        str(k): int(n)
        for k, n in s.execute(select(OutboxRow.state, func.count()).where(*conds).group_by(OutboxRow.state))
    }
    if state:
        conds.append(OutboxRow.state == state)
    if before is not None:
        conds.append(OutboxRow.id < before)
    rows = list(s.scalars(select(OutboxRow).where(*conds).order_by(OutboxRow.id.desc()).limit(limit)))
    return rows, counts


async def channel_status(request: web.Request) -> list[dict[str, Any]]:
    """From the running notifier when there is one; otherwise what the config and the token store say."""
    c = ctx(request)
    notifier = c.services.find(NOTIFIER)
    if notifier is not None:
        items: list[dict[str, Any]] = notifier.status()
    else:
        items = configured_status(c.config, await c.db.run(_token))
    for it in items:
        it["label"] = CHANNEL_LABELS.get(it["channel"], it["channel"])
        it["mode_label"] = MODE_LABELS.get(it["mode"], it["mode"])
        exp = it.get("token_expires_at")
        if isinstance(exp, int | float):
            it["token_expires_at"] = iso(datetime.fromtimestamp(exp, UTC).replace(tzinfo=None))
    return items


def configured_status(config: CoreConfig, token: ChannelToken | None) -> list[dict[str, Any]]:
    n = notify_settings(config)
    out: list[dict[str, Any]] = []
    for ch, ok in ((CHANNEL_OA, n.oa.configured), (CHANNEL_BOT, n.bot.configured)):
        blocked = token.blocked_reason if (token is not None and ch == CHANNEL_OA) else None
        mode = "blocked" if blocked else ("live" if ok and not n.dry_run else "dry_run")
        item: dict[str, Any] = {"channel": ch, "mode": mode, "blocked": blocked, "failing": []}
        if ch == CHANNEL_OA and token is not None and token.access_expires_at is not None:
            item["token_expires_at"] = iso(token.access_expires_at)
        out.append(item)
    return out


def _token(s: Session) -> ChannelToken | None:
    row = s.get(ChannelToken, CHANNEL_OA)
    if row is not None:
        s.expunge(row)
    return row


def _wake(request: web.Request) -> None:
    notifier = ctx(request).services.find(NOTIFIER)
    if notifier is not None:
        notifier.wake()


def _row_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def retry_row(request: web.Request) -> OutboxRow:
    """Puts a failed/dead/unknown row back to pending (audited); shared by the API and the page."""
    c, p = ctx(request), principal(request)
    rid = _row_id(request)
    now = c.clock()

    def change(s: Session) -> OutboxRow | str | None:
        row = s.scalars(select(OutboxRow).where(OutboxRow.id == rid, visible(p))).first()
        if row is None:
            return None
        if row.state not in RETRYABLE:
            return row.state
        before = {"state": row.state, "attempts": row.attempts, "last_error": row.last_error}
        outbox.retry_now(s, row, now)
        record_change(
            s,
            actor=p.username,
            action="notification.retry",
            target=f"notification:{row.id}",
            now=now,
            before=before,
            after={"state": row.state, "attempts": 0},
            district=row.district or None,
            commune=row.commune or None,
        )
        s.flush()
        s.expunge(row)
        return row

    got = await c.db.run(change)
    if got is None:
        raise not_found(f"Không có thông báo {rid}")
    if isinstance(got, str):
        raise ApiError(
            409,
            "not_retryable",
            f"Thông báo {rid} đang ở trạng thái '{STATE_LABELS.get(got, got)}', không gửi lại được",
        )
    _wake(request)
    return got


MAX_TOKEN_CHARS = 2000
TOKEN_PATTERN = f"^[!-~]{{1,{MAX_TOKEN_CHARS}}}$"  # Zalo's tokens: visible ASCII, no spaces
TOKEN_RE = re.compile(TOKEN_PATTERN)
TOKEN_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["refresh_token"],
    "properties": {"refresh_token": {"type": "string", "pattern": TOKEN_PATTERN}},
    "additionalProperties": False,
}


def valid_refresh_token(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_parameter("refresh_token", "thiếu; dán refresh token mới do Zalo cấp")
    token = value.strip()
    if not TOKEN_RE.fullmatch(token):
        raise bad_parameter("refresh_token", "không đúng dạng (một chuỗi liền, không dấu cách)")
    return token


async def replace_oa_refresh_token(request: web.Request, token: str) -> None:
    """Stores a new OA refresh token (audited in the same transaction, the token itself never logged) and
    lifts the re-authorisation block of the running notifier."""
    c, p = ctx(request), principal(request)
    now = c.clock()

    def audit(s: Session) -> None:
        record_change(
            s,
            actor=p.username,
            action="notification.oa_refresh_token",
            target="notify-channel:oa",
            now=now,
            after={"replaced": True, "chars": len(token)},
        )

    notifier = c.services.find(NOTIFIER)
    if notifier is not None:
        await notifier.replace_refresh_token(token, audit)
    else:  # the web app alone (no sender running): the next hub start picks it up from the store
        store = TokenStore(c.db, notify_settings(c.config).oa, lambda: now.replace(tzinfo=UTC).timestamp())
        await store.replace(token, audit)


# handlers ---------------------------------------------------------------------------------------------------


@requires(Perm.VIEW_ALERTS)
async def list_notifications(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    state = params.choice(request, "state", STATES)
    channel = params.choice(request, "channel", CHANNELS)
    district = params.slug(request, "district")
    commune = params.slug(request, "commune")
    limit = params.integer(request, "limit", 100, 1, MAX_LIMIT)
    before = params.integer(request, "before", 0, 1, 10**12) or None
    rows, counts = await c.db.run(lambda s: list_rows(s, p, state, channel, district, commune, before, limit))
    return json_response(
        {
            "items": [row_to_dict(r) for r in rows],
            "counts": counts,
            "next_before": rows[-1].id if len(rows) == limit else None,
        }
    )


@requires(Perm.VIEW_ALERTS)
async def get_notification(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    rid = _row_id(request)
    row = await c.db.run(
        lambda s: s.scalars(select(OutboxRow).where(OutboxRow.id == rid, visible(p))).first()
    )
    if row is None:
        raise not_found(f"Không có thông báo {rid}")
    return json_response(row_to_dict(row))


@requires(Perm.ACK_ALERTS)
async def retry_notification(request: web.Request) -> web.Response:
    return json_response(row_to_dict(await retry_row(request)))


@requires(Perm.EDIT_ALERT_RULES)
async def set_oa_refresh_token(request: web.Request) -> web.Response:
    body = await request.json()  # checked against TOKEN_BODY before this runs
    await replace_oa_refresh_token(request, valid_refresh_token(body.get("refresh_token")))
    return json_response({"items": await channel_status(request)})


@requires(Perm.VIEW_ALERTS)
async def list_channels(request: web.Request) -> web.Response:
    return json_response({"items": await channel_status(request)})


_ID = Param(
    "id", "Outbox row id", {"type": "integer", "minimum": 1, "maximum": 10**12 - 1}, where="path", example=1
)
_ROW = {"type": "object", "description": "One outbox row: receiver, rendered text, state, attempts, errors"}

ROUTES = [
    ApiRoute(
        "GET",
        "/notifications",
        list_notifications,
        "Zalo outbox rows in the caller's scope, newest first, with counts per state",
        params=(
            Param("state", "Only this state", {"type": "string", "enum": list(STATES)}),
            Param("channel", "Only this channel", {"type": "string", "enum": list(CHANNELS)}),
            Param("district", "Only this district (slug)", params.SLUG),
            Param("commune", "Only this commune (slug)", params.SLUG),
            Param("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
            Param(
                "before",
                "`next_before` of the previous page (row id)",
                {"type": "integer", "minimum": 1, "maximum": 10**12},
            ),
        ),
        response={
            "type": "object",
            "required": ["items", "counts", "next_before"],
            "properties": {
                "items": {"type": "array", "items": _ROW},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "next_before": {"type": ["integer", "null"]},
            },
        },
    ),
    ApiRoute(
        "GET",
        "/notifications/channels",
        list_channels,
        "Notification channels (Zalo OA, Zalo Bot): live, dry run or blocked, and why",
        response={"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
    ),
    ApiRoute(
        "POST",
        "/notifications/channels/oa/refresh-token",
        set_oa_refresh_token,
        'After the OA admin authorised the app again: body {"refresh_token": "…"}; lifts the block',
        body=json_body(TOKEN_BODY),
        errors=(400, 401, 403, 415),
        response={"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
    ),
    ApiRoute(
        "GET",
        ROW_PATH,
        get_notification,
        "One outbox row",
        params=(_ID,),
        response=_ROW,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "POST",
        ROW_PATH + "/retry",
        retry_notification,
        "Send a failed, dead or in-doubt (unknown) row again",
        params=(_ID,),
        response=_ROW,
        errors=(400, 401, 403, 404, 409),
    ),
]
