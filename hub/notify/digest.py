"""The daily digest: who gets one, what it says (cameras down for long, yesterday's uptime by commune,
broadcasts aired and missed), and when. Loading runs in the SQL thread; the rest is pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.db import STATUS_OFFLINE, Camera, Transition, utc
from hub.core.facts import DigestScope, DigestSection
from hub.core.maintenance_rules import MaintenanceWindows
from hub.notify.config import BROADCAST_KINDS, CAMERA_KINDS, NotifyConfig, parse_hhmm
from hub.notify.models import CHANNEL_BOT, CHANNEL_OA
from hub.notify.render import AreaNames, area_label, duration_vi, fit_lines
from hub.notify.routing import Target

CATCH_UP_S = 12 * 3600  # a hub started within 12 h after the digest time still sends that day's digest
KEYS_PER_READ = 500


@dataclass(frozen=True, slots=True)
class DigestTarget:
    target: Target
    districts: tuple[str, ...]  # empty = all
    communes: tuple[str, ...]  # "district/commune"; empty = all of the districts
    cameras: bool
    broadcasts: bool

    @property
    def scope(self) -> DigestScope:
        return DigestScope(self.districts, self.communes)

    @property
    def scope_key(self) -> str:
        return ",".join(self.communes or self.districts) or "*"


def digest_targets(cfg: NotifyConfig) -> list[DigestTarget]:
    """One digest per receiver and area: a district police group gets its district, a commune officers'
    group its commune, a literal group or chat what its route matches."""
    out: dict[tuple[str, str], DigestTarget] = {}
    g = cfg.groups
    for r in cfg.routes:
        if not r.digest:
            continue
        cams = not r.kinds or any(k in CAMERA_KINDS for k in r.kinds)
        bcast = not r.kinds or any(k in BROADCAST_KINDS for k in r.kinds)
        if not (cams or bcast):
            continue
        for rcv in r.receivers:
            found: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
            ds: tuple[str, ...]
            if rcv.oa_group == "@police":
                found = [
                    (CHANNEL_OA, gid, (d,), ())
                    for d, gid in g.police.items()
                    if not r.districts or d in r.districts
                ]
            elif rcv.oa_group == "@officers":
                for dc, gid in g.officers.items():
                    d, _, c = dc.partition("/")
                    if (not r.districts or d in r.districts) and (not r.communes or c in r.communes):
                        found.append((CHANNEL_OA, gid, (d,), (dc,)))
            elif rcv.bot_chat == "@oncall":
                for d, chats in g.oncall.items():
                    ds = () if d == "*" else (d,)
                    found += [(CHANNEL_BOT, chat, ds, ()) for chat in chats]
            else:
                channel = CHANNEL_OA if rcv.oa_group else CHANNEL_BOT
                tid = rcv.oa_group or rcv.bot_chat or ""
                communes = tuple(f"{d}/{c}" for d in r.districts for c in r.communes)
                found = [(channel, tid, tuple(r.districts), communes)]
            for channel, tid, ds, cs in found:
                t = Target(channel, tid, rcv.name or tid, r.name, r.quiet_hours)
                out.setdefault((channel, tid), DigestTarget(t, ds, cs, cams, bcast))
    return list(out.values())


def next_digest_at(now: float, at: str, tz: ZoneInfo) -> float:
    """The next local `at` strictly after `now` (epoch seconds)."""
    local = datetime.fromtimestamp(now, UTC).astimezone(tz)
    t = parse_hhmm(at)
    cand = datetime.combine(local.date(), t, tzinfo=tz)
    if cand.timestamp() <= now:
        cand = datetime.combine(local.date() + timedelta(days=1), t, tzinfo=tz)
    return cand.timestamp()


def due_today(now: float, at: str, tz: ZoneInfo) -> date | None:
    """The report day (yesterday, local) when today's digest time has passed within CATCH_UP_S, else None."""
    local = datetime.fromtimestamp(now, UTC).astimezone(tz)
    sched = datetime.combine(local.date(), parse_hhmm(at), tzinfo=tz).timestamp()
    if sched <= now < sched + CATCH_UP_S:
        return local.date() - timedelta(days=1)
    return None


# loading ----------------------------------------------------------------------------------------------------


@dataclass
class DigestData:
    day: date
    down: list[tuple[str, str, str, datetime]] = field(
        default_factory=list
    )  # key, name, commune, since (UTC)
    uptime: list[reports.AreaUptime] = field(default_factory=list)
    # Lines of the other features' sections (broadcasts), already worded.
    sections: list[str] = field(default_factory=list)


def load_digest(
    s: Session,
    dt: DigestTarget,
    day: date,
    now: datetime,
    tz: ZoneInfo,
    down_over_h: float,
    sections: Sequence[DigestSection] = (),
    maintenance: MaintenanceWindows | None = None,
) -> DigestData:
    data = DigestData(day)
    period = reports.calendar_period("day", day, now, tz)
    if dt.cameras:
        cutoff = now - timedelta(hours=down_over_h)
        for key, name, commune, since in s.execute(
            select(Camera.key, Camera.name, Camera.commune, Camera.status_since)
            .where(
                dt.scope.where(Camera.district, Camera.commune),
                Camera.status == STATUS_OFFLINE,
                Camera.status_since < cutoff,
            )
            .order_by(Camera.status_since)
        ):
            if since is not None:
                data.down.append((key, name or key.rsplit("/", 1)[-1], commune, since))
        cams = [
            reports.CameraInfo(*r)
            for r in s.execute(
                select(Camera.key, Camera.district, Camera.commune, Camera.name).where(
                    dt.scope.where(Camera.district, Camera.commune)
                )
            )
        ]
        changes: list[reports.StatusChange] = []
        keys = [c.key for c in cams]
        T = Transition
        cols = (T.subject_key, T.district, T.commune, T.at, T.to_status, T.problems, T.reason)
        for i in range(0, len(keys), KEYS_PER_READ):
            mine = (T.subject_kind == "camera", T.subject_key.in_(keys[i : i + KEYS_PER_READ]))
            rank = func.row_number().over(partition_by=T.subject_key, order_by=(T.at.desc(), T.id.desc()))
            before = select(*cols, rank.label("rn")).where(*mine, T.at < period.start).subquery()
            prior = select(*(before.c[c.key] for c in cols)).where(before.c.rn == 1)
            inside = select(*cols).where(*mine, T.at >= period.start, T.at < period.end).order_by(T.at, T.id)
            for stmt in (prior, inside):
                changes += [
                    reports.StatusChange(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), r[6])
                    for r in s.execute(stmt)
                ]
        held: dict[str, list[tuple[datetime, datetime]]] = {}
        if maintenance is not None:  # time in maintenance windows is not downtime (docs/ALERTS.md)
            found = maintenance.lookup(
                s, [(c.key, c.district, c.commune) for c in cams], period.start, period.end
            )
            held = {
                k: [(a.replace(tzinfo=None), b.replace(tzinfo=None)) for a, b in v] for k, v in found.items()
            }
        data.uptime = reports.uptime(cams, changes, period, held).communes
    if dt.broadcasts:
        for section in sections:
            data.sections += section(s, dt.scope, period.start, period.end, tz)
    return data


# text -------------------------------------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}".replace(".", ",") + " %"


def render_digest(
    dt: DigestTarget,
    data: DigestData,
    names: AreaNames,
    tz: ZoneInfo,
    now: datetime,
    public_url: str,
    max_chars: int,
) -> str:
    if dt.communes:
        d, c = dt.communes[0].split("/", 1)
        where = area_label(names, d, c) + (
            f" và {len(dt.communes) - 1} xã khác" if len(dt.communes) > 1 else ""
        )
    elif len(dt.districts) == 1:
        where = area_label(names, dt.districts[0], "")
    else:
        where = "Toàn tỉnh" if not dt.districts else ", ".join(area_label(names, d, "") for d in dt.districts)
    head = [f"📋 Báo cáo ngày {data.day:%d/%m/%Y} — {where}"]
    body: list[str] = []
    now_utc = now.replace(tzinfo=UTC)
    if dt.cameras:
        if data.down:
            body.append(f"Camera mất kết nối quá 1 ngày ({len(data.down)}):")
            for _key, name, commune, since in data.down:
                s = utc(since)
                assert s is not None
                c_name = names.get((_key.split("/")[0], commune), commune)
                body.append(
                    f"• {name} ({c_name}) — {duration_vi((now_utc - s).total_seconds())}, từ {s.astimezone(tz):%H:%M %d/%m}"
                )
        else:
            body.append("Không có camera nào mất kết nối quá 1 ngày.")
        if data.uptime:
            body.append("Khả dụng camera hôm qua theo xã:")
            for a in data.uptime:
                body.append(
                    f"• {names.get((a.district, a.commune), a.commune)}: {_pct(a.durations.availability)} ({a.cameras} camera, {a.outages} lần mất kết nối)"
                )
    if dt.broadcasts:
        body += data.sections
    # The reports page is the camera side's; officers (broadcasts only) have no page of theirs to link yet.
    tail = (
        [f"Xem: {public_url.rstrip('/')}/reports?period=day&date={data.day.isoformat()}"]
        if dt.cameras
        else []
    )
    return fit_lines(head, body, tail, max_chars, "mục")
