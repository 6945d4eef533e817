"""People's pages: the camera wall (`/`) and one camera (`/cameras/{d}/{c}/{cam}`)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from hub.core import reports
from hub.core.auth import Principal
from hub.core.camera_points import camera_place
from hub.core.db import STATUSES, Agent
from hub.core.labels import STATUS_LABELS, fold, problem_labels
from hub.core.maintenance_rules import MAINTENANCE_WINDOWS
from hub.core.recorder_state import RECORDER_STATES
from hub.core.serialize import agent_to_dict, camera_to_dict, iso, transition_to_dict
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, requires, signed_in
from hub.web.api.cameras import area_filter, format_cursor, parse_cursor, summary_dict
from hub.web.api.history import DEFAULT_RANGE, NUMERIC_METRICS, RANGES
from hub.web.api.report_query import ReportQuery, load_changes
from hub.web.context import ctx
from hub.web.errors import bad_parameter, not_found
from hub.web.home import home_for
from hub.web.recorder_view import epoch, recorder_rows
from hub.web.render import html_response, page_values, render, scope_label

AREA_RE = re.compile(rf"^({params.SLUG_PATTERN})/({params.SLUG_PATTERN})$")
HISTORY_PAGE = 50
OUTAGE_DAYS = 7
MAINTENANCE_DAYS = 14  # maintenance windows shown ahead on the camera page
OUTAGES_SHOWN = 20
# Charts on the camera page, in order; each reads /history?metric=… for the chosen range.
CHART_METRICS = ("status", "fps", "brightness", "sharpness", "motion", "open_ms")
RANGE_LABELS = {"6h": "6 giờ", "24h": "24 giờ", "7d": "7 ngày", "30d": "30 ngày"}


def snapshot_url(cam: dict[str, Any]) -> str | None:
    if not cam.get("snapshot_ts"):
        return None
    # encoded exactly like the browser's encodeURIComponent, so live.js sees the same URL and does not reload it
    return f"/api/v1/cameras/{cam['key']}/snapshot?v={quote(cam['snapshot_ts'], safe='')}"


def tile(cam: dict[str, Any], names: dict[tuple[str, str], str]) -> dict[str, Any]:
    area = names.get((cam["district"], cam["commune"]), cam["commune"])
    return {
        **cam,
        "title": cam.get("name") or cam["id"],
        "status_label": STATUS_LABELS.get(cam["status"], cam["status"]),
        "problem_labels": problem_labels(cam),
        "snapshot_url": snapshot_url(cam),
        "search": fold(" ".join([cam["id"], cam.get("name") or "", cam["commune"], cam["district"], area])),
    }


@dataclass
class Group:
    key: str  # district/commune
    name: str
    district_name: str
    tiles: list[dict[str, Any]] = field(default_factory=list)
    shown: int = 0


@dataclass
class WallFilter:
    status: str | None
    area: str | None  # district/commune
    q: str | None


def build_wall(
    cams: list[dict[str, Any]], names: dict[tuple[str, str], str], f: WallFilter
) -> tuple[list[Group], dict[str, int]]:
    """Groups per commune with every tile (filtered ones marked hidden, so the browser can re-filter without
    a reload) and counts per status over the area/search filters."""
    groups: dict[str, Group] = {}
    counts = dict.fromkeys(STATUSES, 0)
    needle = fold(f.q) if f.q else None
    for cam in cams:
        t = tile(cam, names)
        key = f"{cam['district']}/{cam['commune']}"
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(
                key,
                names.get((cam["district"], cam["commune"]), cam["commune"]),
                names.get((cam["district"], ""), cam["district"]),
            )
        in_area = (f.area is None or f.area == key) and (needle is None or needle in t["search"])
        if in_area:
            counts[cam["status"]] = counts.get(cam["status"], 0) + 1
        t["hidden"] = not (in_area and (f.status is None or cam["status"] == f.status))
        g.shown += 0 if t["hidden"] else 1
        g.tiles.append(t)
    return list(groups.values()), counts


def wall_query(f: WallFilter) -> dict[str, str]:
    """The filters as query parameters, so switching to and from the TV mode keeps them."""
    return {k: v for k, v in (("status", f.status), ("commune", f.area), ("q", f.q)) if v}


@signed_in  # open to every user so that `/` works as "home": who may not see cameras is sent to their own
async def wall(request: web.Request) -> web.Response:
    """Every tile for a scope of at most `http.wall_tiles_max` cameras (a district); above that (a province) the
    counts per commune first, and one commune's tiles when the `commune` filter names it."""
    c, p = ctx(request), principal(request)
    if not has_perm(p, Perm.VIEW_CAMERAS):
        raise web.HTTPSeeOther(home_for(p))
    params.reject_unknown(request, ("status", "commune", "q", "tv", "view"))
    tv = params.boolean(request, "tv", False)  # command-room mode: full screen for a TV, no menus
    status = params.choice(request, "status", STATUSES)
    area = params.text(request, "commune", 130)
    if area is not None and not AREA_RE.match(area):
        raise bad_parameter("commune", "cần dạng huyện/xã")
    f = WallFilter(status, area, params.text(request, "q", 100))

    views = await c.views.views()
    names = await c.views.names()
    scope = area_filter(p, None, None)
    scoped = [a for a in views.select_areas(scope) if a.cameras]
    # view=summary (a leader's home): the counts per commune whatever the scope's size
    asked_summary = params.choice(request, "view", ("summary",)) == "summary"
    by_commune = asked_summary or sum(a.total for a in scoped) > c.config.http.wall_tiles_max
    drill = area if by_commune else None
    drill_d, drill_c = drill.split("/") if drill else ("", "")
    keep = area_filter(p, drill_d, drill_c) if drill else scope
    page = page_values(request)
    template = c.templates.get_template("wall.html")
    multi_district = len({a.district for a in scoped}) > 1
    common = {
        "filter": f,
        "statuses": STATUSES,
        "multi_district": multi_district,
        "areas": [
            (f"{a.district}/{a.commune}", _area_label(a.district, a.commune, names, multi_district))
            for a in scoped
        ],
        "area_names": {f"{d}/{co}" if co else d: n for (d, co), n in names.items()},
        "scope_label": scope_label(p, names),
        "tv": tv,
        "tv_url": "/?" + urlencode({"tv": "1", **wall_query(f)}),
        "wall_url": "/" + (("?" + urlencode(wall_query(f))) if wall_query(f) else ""),
        "mode": "summary" if by_commune and not drill else "tiles",
        "drill": drill,
        "drill_name": _area_label(drill_d, drill_c, names, True) if drill else None,
        "back_url": "/" + ("?tv=1" if tv else ""),
    }
    if by_commune and not drill:
        summary = summary_dict(views, scope, names)
        for a in summary["communes"]:
            a["href"] = _drill_url(f"{a['district']}/{a['commune']}", tv)
        values = {**common, "summary": summary, "counts": summary["counts"], "total": summary["total"]}
        return html_response(template.render({**page, **values}))
    cams = [json.loads(v.json) for v in views.query(keep, limit=max(1, len(views.cameras))).items]

    def build() -> str:  # in a worker thread: a district of ~700 cameras takes tens of ms
        groups, counts = build_wall(cams, names, f)
        values = {**common, "groups": groups, "counts": counts, "total": sum(counts.values())}
        return template.render({**page, **values})

    return html_response(await asyncio.to_thread(build))


def _drill_url(area: str, tv: bool) -> str:
    return "/?" + urlencode({"commune": area, **({"tv": "1"} if tv else {})})


def _area_label(district: str, commune: str, names: dict[tuple[str, str], str], with_district: bool) -> str:
    name = names.get((district, commune), commune)
    return name + (f" ({names.get((district, ''), district)})" if with_district else "")


def _agent_for(s: Session, p: Principal, key: str | None) -> dict[str, Any] | None:
    if key is None or not has_perm(p, Perm.VIEW_AGENTS):
        return None
    a = s.get(Agent, key)
    return agent_to_dict(a) if a is not None else None


@requires(Perm.VIEW_CAMERAS)
async def camera_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, slug = (request.match_info[k] for k in ("district", "commune", "camera"))
    params.reject_unknown(request, ("before",))
    before = parse_cursor(params.text(request, "before", 64))

    def load(s: Session) -> dict[str, Any] | None:
        cam = queries.get_camera(s, p, d, co, slug)
        if cam is None:
            return None
        names = queries.area_names(s, c.config)
        rows, nxt = queries.transitions(s, cam.key, None, None, before, HISTORY_PAGE)
        period = reports.Period(now - timedelta(days=OUTAGE_DAYS), now, "custom", "")
        changes = load_changes(s, ReportQuery(period, d, co), [cam.key])
        runs = reports.outages(changes, period, reports.OUTAGE_KINDS)[:OUTAGES_SHOWN]
        return {
            "cam": tile(camera_to_dict(cam), names),
            "commune_name": names.get((d, co), co),
            "district_name": names.get((d, ""), d),
            "history": [transition_to_dict(t) for t in rows],
            "older": format_cursor(*nxt) if nxt else None,
            "agent": _agent_for(s, p, cam.agent_key),
            "scope_label": scope_label(p, names),
            "outages": runs,
            "place": camera_place(s, cam),
        }

    now = c.clock()
    data = await c.db.read(load)
    if data is None:
        raise not_found(f"Không có camera {d}/{co}/{slug} trong phạm vi của bạn")
    charts = {
        "metrics": [
            {
                "id": m,
                "label": NUMERIC_METRICS[m].label if m in NUMERIC_METRICS else "Trạng thái và tỉ lệ có hình",
            }
            for m in CHART_METRICS
        ],
        "units": {m: NUMERIC_METRICS[m].unit for m in CHART_METRICS if m in NUMERIC_METRICS},
        "ranges": [{"id": r, "label": RANGE_LABELS.get(r, r)} for r in RANGES],
        "range": DEFAULT_RANGE,
        "enabled": c.config.influx.enabled,
    }
    windows = c.services.find(MAINTENANCE_WINDOWS)
    maintenance = None
    if windows is not None:
        ahead = now + timedelta(days=MAINTENANCE_DAYS)
        found = await c.db.run(lambda s: windows.lookup(s, [(f"{d}/{co}/{slug}", d, co)], now, ahead))
        maintenance = [{"start": iso(a), "end": iso(b)} for a, b in found.get(f"{d}/{co}/{slug}", [])][:20]
    states = c.services.find(RECORDER_STATES)
    recorders = recorder_rows(states.of_camera(d, co, slug), epoch(now)) if states is not None else None
    return render(
        request,
        "camera.html",
        recorders=recorders,
        maintenance=maintenance,
        maintenance_days=MAINTENANCE_DAYS,
        paged=before is not None,
        charts=charts,
        outage_days=OUTAGE_DAYS,
        can_command=has_perm(p, Perm.COMMAND_DEVICES),
        **data,
    )
