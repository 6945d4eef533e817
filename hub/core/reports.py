"""Availability reports from the camera transition log: pure functions of the log, the period and `now`.

How time counts (one rule for cameras, communes and districts):
- `ok` and `problem` are *available* (the camera streams; a problem is a picture fault, not an outage);
  `ok` alone is *healthy*. `offline` is *down*.
- `stale` and `unknown` (the hub did not hear from the camera, or the camera had not reported yet) are
  *no data*: neither up nor down, left out of the denominator. Time before a camera's first transition is
  no data too, so a camera added mid-period is judged only on the time it was watched.
- availability % = (ok + problem) / (ok + problem + offline); healthy % = ok / the same. None with no data.
- Communes and districts add their cameras' seconds (time-weighted, not an average of percentages).
- An outage is a run of `offline` (or of `problem`, listed apart) clipped to the period; consecutive changes
  with the same status (new problem codes) extend the run. A run still going at the period's end is
  `ongoing`; the period never reaches past `now`, so a current outage ends at `now`.

All datetimes are naive UTC, as stored. Periods are local (Asia/Ho_Chi_Minh by config): a day is a local day,
a week starts on local Monday, a month on the local 1st.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("day", "week", "month", "custom")
UP_STATUSES = ("ok", "problem")
DOWN_STATUS = "offline"
OUTAGE_KINDS = ("offline", "problem")
MAX_CUSTOM_DAYS = 400


@dataclass(frozen=True)
class StatusChange:
    """One row of the transition log (camera subjects only)."""

    camera: str  # key district/commune/camera
    district: str
    commune: str
    at: datetime  # naive UTC
    status: str  # to_status
    problems: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class CameraInfo:
    key: str
    district: str
    commune: str
    name: str | None = None


@dataclass(frozen=True)
class Period:
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive; never after `now`
    kind: str
    label: str  # local, for people: "05/11/2026", "Tuần 02/11–08/11/2026", "Tháng 11/2026"


@dataclass
class Durations:
    """Seconds per class within the period."""

    ok: float = 0.0
    problem: float = 0.0
    offline: float = 0.0
    no_data: float = 0.0
    maintenance: float = 0.0  # inside a maintenance window: left out of availability (docs/ALERTS.md)

    def add(self, status: str, seconds: float) -> None:
        if status == "ok":
            self.ok += seconds
        elif status == "problem":
            self.problem += seconds
        elif status == DOWN_STATUS:
            self.offline += seconds
        else:  # stale, unknown, before the first report
            self.no_data += seconds

    def merge(self, other: Durations) -> None:
        self.ok += other.ok
        self.problem += other.problem
        self.offline += other.offline
        self.no_data += other.no_data
        self.maintenance += other.maintenance

    @property
    def known(self) -> float:
        return self.ok + self.problem + self.offline

    @property
    def availability(self) -> float | None:
        return (self.ok + self.problem) / self.known * 100 if self.known > 0 else None

    @property
    def healthy(self) -> float | None:
        return self.ok / self.known * 100 if self.known > 0 else None


@dataclass(frozen=True)
class Outage:
    camera: str
    district: str
    commune: str
    status: str  # offline / problem
    start: datetime  # clipped to the period
    end: datetime  # clipped to the period
    started_before: bool  # the run began before the period
    ongoing: bool  # not over at the period's end (for a period reaching now: not over yet)
    problems: tuple[str, ...]
    reason: str | None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class CameraUptime:
    info: CameraInfo
    durations: Durations = field(default_factory=Durations)
    outages: int = 0  # offline runs within the period


@dataclass(frozen=True)
class AreaUptime:
    district: str
    commune: str  # "" for a district
    cameras: int
    durations: Durations
    outages: int


@dataclass(frozen=True)
class UptimeReport:
    period: Period
    cameras: list[CameraUptime]  # sorted by key
    communes: list[AreaUptime]
    districts: list[AreaUptime]
    total: AreaUptime  # district "" and commune "": everything in the report


# periods ----------------------------------------------------------------------------------------------------


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def to_local(dt: datetime, tz: ZoneInfo) -> datetime:
    return dt.replace(tzinfo=UTC).astimezone(tz)


def local_date(now: datetime, tz: ZoneInfo) -> date:
    return to_local(now, tz).date()


def calendar_period(kind: str, day: date, now: datetime, tz: ZoneInfo) -> Period:
    """The local day/week/month holding `day`, ending at `now` if it has not ended yet.

    Raises ValueError when it starts after `now` (nothing to report yet)."""
    if kind == "day":
        first, last = day, day + timedelta(days=1)
        label = day.strftime("%d/%m/%Y")
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
        label = f"Tuần {first:%d/%m}–{last - timedelta(days=1):%d/%m/%Y}"
    elif kind == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
        label = f"Tháng {first:%m/%Y}"
    else:
        raise ValueError(f"kỳ {kind!r} không phải ngày/tuần/tháng")
    start = _to_utc(datetime.combine(first, time()), tz)
    end = _to_utc(datetime.combine(last, time()), tz)
    if start >= now:
        raise ValueError("kỳ báo cáo chưa bắt đầu")
    return Period(start, min(end, now), kind, label)


def custom_period(start: datetime, end: datetime, now: datetime, tz: ZoneInfo) -> Period:
    """[start, end) in naive UTC, cut at `now`. Raises ValueError naming what is wrong."""
    if end <= start:
        raise ValueError("'to' phải sau 'from'")
    if end - start > timedelta(days=MAX_CUSTOM_DAYS):
        raise ValueError(f"khoảng dài quá {MAX_CUSTOM_DAYS} ngày")
    if start >= now:
        raise ValueError("'from' ở tương lai")
    fmt = "%H:%M %d/%m/%Y"
    label = f"{to_local(start, tz):{fmt}} – {to_local(min(end, now), tz):{fmt}}"
    return Period(start, min(end, now), "custom", label)


# computation ------------------------------------------------------------------------------------------------


def _by_camera(changes: Iterable[StatusChange]) -> dict[str, list[StatusChange]]:
    out: dict[str, list[StatusChange]] = defaultdict(list)
    for ch in changes:
        out[ch.camera].append(ch)
    for rows in out.values():
        rows.sort(key=lambda c: c.at)  # stable: rows with equal times keep the log's order
    return out


def _runs(
    rows: Sequence[StatusChange], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, StatusChange | None, list[StatusChange]]]:
    """Runs of one status covering [start, end): (from, to, first change of the run or None for no data,
    every change in the run). Changes before `start` only set the state at `start`."""
    runs: list[tuple[datetime, datetime, StatusChange | None, list[StatusChange]]] = []
    cur: StatusChange | None = None
    members: list[StatusChange] = []
    cur_from = start
    for ch in rows:
        if ch.at >= end:
            break
        if cur is not None and ch.status == cur.status:
            members.append(ch)
            continue
        at = max(ch.at, start)
        if at > cur_from:
            runs.append((cur_from, at, cur, members))
        cur, members, cur_from = ch, [ch], at
    if end > cur_from:
        runs.append((cur_from, end, cur, members))
    return runs


def _merged_problems(members: Sequence[StatusChange]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for m in members:
        seen.update(dict.fromkeys(m.problems))
    return tuple(seen)


def outages(
    changes: Iterable[StatusChange], period: Period, kinds: Sequence[str] = ("offline",)
) -> list[Outage]:
    """Runs of the given statuses within the period, newest first."""
    out: list[Outage] = []
    for rows in _by_camera(changes).values():
        runs = _runs(rows, period.start, period.end)
        for i, (a, b, first, members) in enumerate(runs):
            if first is None or first.status not in kinds:
                continue
            reason = next((m.reason for m in reversed(members) if m.reason), None)
            out.append(
                Outage(
                    camera=first.camera,
                    district=first.district,
                    commune=first.commune,
                    status=first.status,
                    start=a,
                    end=b,
                    started_before=first.at < period.start,
                    ongoing=i == len(runs) - 1,
                    problems=_merged_problems(members),
                    reason=reason,
                )
            )
    out.sort(key=lambda o: (o.start, o.camera), reverse=True)
    return out


def _area(district: str, commune: str, cams: Sequence[CameraUptime]) -> AreaUptime:
    d = Durations()
    for c in cams:
        d.merge(c.durations)
    return AreaUptime(district, commune, len(cams), d, sum(c.outages for c in cams))


def _overlap(a: datetime, b: datetime, spans: Sequence[tuple[datetime, datetime]]) -> float:
    return sum(max(0.0, (min(b, e) - max(a, s)).total_seconds()) for s, e in spans)


def uptime(
    cameras: Iterable[CameraInfo],
    changes: Iterable[StatusChange],
    period: Period,
    excluded: Mapping[str, Sequence[tuple[datetime, datetime]]] | None = None,
) -> UptimeReport:
    """Uptime per camera, commune, district and overall. A camera in the log but not in `cameras` (removed
    since) is still counted. `excluded`: per camera, the (naive UTC, non-overlapping) spans it was in maintenance;
    that time counts as `maintenance`, in no status."""
    infos = {c.key: c for c in cameras}
    grouped = _by_camera(changes)
    for key, rows in grouped.items():
        if key not in infos:
            infos[key] = CameraInfo(key, rows[0].district, rows[0].commune)
    result: list[CameraUptime] = []
    for key in sorted(infos):
        cu = CameraUptime(infos[key])
        spans = excluded.get(key, ()) if excluded else ()
        for a, b, first, _members in _runs(grouped.get(key, []), period.start, period.end):
            held = _overlap(a, b, spans) if spans else 0.0
            cu.durations.maintenance += held
            cu.durations.add(first.status if first else "unknown", (b - a).total_seconds() - held)
            cu.outages += 1 if first is not None and first.status == DOWN_STATUS else 0
        result.append(cu)
    communes: dict[tuple[str, str], list[CameraUptime]] = defaultdict(list)
    districts: dict[str, list[CameraUptime]] = defaultdict(list)
    for cu in result:
        communes[(cu.info.district, cu.info.commune)].append(cu)
        districts[cu.info.district].append(cu)
    return UptimeReport(
        period,
        result,
        [_area(d, c, v) for (d, c), v in sorted(communes.items())],
        [_area(d, "", v) for d, v in sorted(districts.items())],
        _area("", "", result),
    )


def worst(cams: Sequence[CameraUptime], n: int) -> list[CameraUptime]:
    """The n cameras with the lowest availability (then least healthy, most outages); cameras without data
    and those fully healthy are left out."""
    judged = [c for c in cams if c.durations.healthy is not None and c.durations.healthy < 100]

    def rank(c: CameraUptime) -> tuple[float, float, int, str]:
        d = c.durations
        return (d.availability or 0.0, d.healthy or 0.0, -c.outages, c.info.key)

    return sorted(judged, key=rank)[:n]
