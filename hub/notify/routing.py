"""Which receivers get a notice, and until when quiet hours hold it: pure functions of config and `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.core.facts import AlertNotice, FactKind, Severity
from hub.notify.config import GroupDirectory, QuietHours, Receiver, RouteConfig, parse_hhmm
from hub.notify.models import CHANNEL_BOT, CHANNEL_OA


@dataclass(frozen=True, slots=True)
class Target:
    channel: str  # oa / bot
    target: str  # group id / chat id
    name: str  # for people
    route: str
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A receiver reference with no entry in the group directory (shown in the outbox, not dropped)."""

    route: str
    reference: str
    reason: str


def route_matches(r: RouteConfig, kind: str, severity: str, district: str, commune: str) -> bool:
    return (
        (not r.districts or district in r.districts)
        and (not r.communes or commune in r.communes)
        and (not r.kinds or kind in r.kinds)
        and (not r.severities or severity in r.severities)
    )


def resolve(
    rcv: Receiver, groups: GroupDirectory, district: str, commune: str
) -> tuple[list[tuple[str, str]], str | None]:
    """(channel, target id) pairs for a receiver in this area, or a reason why there are none."""
    if rcv.oa_group is not None:
        if rcv.oa_group == "@police":
            gid = groups.police.get(district)
            return (
                ([(CHANNEL_OA, gid)], None) if gid else ([], f"chưa khai báo nhóm công an huyện {district!r}")
            )
        if rcv.oa_group == "@province":
            gid = groups.province
            return ([(CHANNEL_OA, gid)], None) if gid else ([], "chưa khai báo nhóm trung tâm chỉ huy tỉnh")
        if rcv.oa_group == "@officers":
            gid = groups.officers.get(f"{district}/{commune}")
            if gid:
                return [(CHANNEL_OA, gid)], None
            return [], f"chưa khai báo nhóm cán bộ xã {district}/{commune}"
        return [(CHANNEL_OA, rcv.oa_group)], None
    assert rcv.bot_chat is not None
    if rcv.bot_chat == "@oncall":
        chats = groups.oncall.get(district) or groups.oncall.get("*") or []
        if not chats:
            return [], f"chưa khai báo người trực cho huyện {district or '(toàn tỉnh)'}"
        return [(CHANNEL_BOT, c) for c in chats], None
    return [(CHANNEL_BOT, rcv.bot_chat)], None


def route_notice(
    routes: list[RouteConfig],
    groups: GroupDirectory,
    kind: str,
    severity: str,
    district: str,
    commune: str,
) -> tuple[list[Target], list[Unresolved]]:
    """Alertmanager-style: routes in order, the first match wins unless it says `continue`. A receiver reached
    through two routes is sent once (the first route's quiet hours apply)."""
    targets: dict[tuple[str, str], Target] = {}
    missing: list[Unresolved] = []
    for r in routes:
        if not route_matches(r, kind, severity, district, commune):
            continue
        for rcv in r.receivers:
            pairs, why = resolve(rcv, groups, district, commune)
            if why is not None:
                missing.append(Unresolved(r.name, rcv.oa_group or rcv.bot_chat or "", why))
            for channel, tid in pairs:
                targets.setdefault(
                    (channel, tid), Target(channel, tid, rcv.name or tid, r.name, r.quiet_hours)
                )
        if not r.continue_matching:
            break
    return list(targets.values()), missing


def matched_routes(
    routes: list[RouteConfig], kind: str, severity: str, district: str, commune: str
) -> list[RouteConfig]:
    """The routes a notice goes through (the first match, and the ones after it while they say `continue`)."""
    out = []
    for r in routes:
        if route_matches(r, kind, severity, district, commune):
            out.append(r)
            if not r.continue_matching:
                break
    return out


def exempt_from_quiet(notice: AlertNotice) -> bool:
    return (
        notice.quiet_hours_exempt
        or notice.severity == Severity.CRITICAL
        or notice.kind == FactKind.CHANNEL_FAILING
    )


def quiet_until(now: datetime, qh: QuietHours | None, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet period `now` (naive UTC) falls in, as naive UTC; None outside quiet hours."""
    if qh is None:
        return None
    start, end = parse_hhmm(qh.start), parse_hhmm(qh.end)
    local = now.replace(tzinfo=UTC).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # wraps midnight: 22:00–06:00
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    end_local = datetime.combine(end_day, end, tzinfo=tz)
    return end_local.astimezone(UTC).replace(tzinfo=None)
