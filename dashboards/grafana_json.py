"""The pieces of Grafana dashboard JSON the generated dashboards share: the datasource, raw InfluxQL targets,
panel placement on the 24-column grid, panel options, template variables and the dashboard itself."""

from __future__ import annotations

from typing import Any

from hub.core.influx_tiers import RP_VARIABLE_QUERY

DS = {"type": "influxdb", "uid": "influxdb-ops"}
AREA = "district =~ /^$district$/ AND commune =~ /^$commune$/"


def target(query: str, ref: str = "A", alias: str | None = None, fmt: str = "time_series") -> dict[str, Any]:
    t: dict[str, Any] = {
        "datasource": DS,
        "refId": ref,
        "rawQuery": True,
        "resultFormat": fmt,
        "query": query,
    }
    if alias:
        t["alias"] = alias
    return t


class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def panel(
        self, kind: str, title: str, desc: str, targets: list[dict[str, Any]], w: int, h: int, **extra: Any
    ) -> dict[str, Any]:
        p = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": desc,
            "datasource": DS,
            "gridPos": self.place(w, h),
            "targets": targets,
        }
        self.next_id += 1
        p.update(extra)
        return p


def stat_options(color: str, unit: str = "none", **defaults: Any) -> dict[str, Any]:
    return {
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
            "justifyMode": "center",
        },
        "fieldConfig": {
            "defaults": {"unit": unit, "color": {"mode": "fixed", "fixedColor": color}, **defaults},
            "overrides": [],
        },
    }


def series_options(unit: str = "none", draw: str = "line", stack: bool = False) -> dict[str, Any]:
    return {
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {
                    "drawStyle": draw,
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "spanNulls": False,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def table_options(hide: tuple[str, ...] = ("Time",)) -> dict[str, Any]:
    return {
        "transformations": [{"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
    }


def variable(name: str, label: str, query: str, all_: bool = True) -> dict[str, Any]:
    v: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": query,
        "refresh": 2,
        "includeAll": all_,
        "multi": all_,
        "sort": 1,
        "options": [],
        "hide": 0,
    }
    if all_:
        v["allValue"] = ".*"
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return v


def rp_variable() -> dict[str, Any]:
    """`$rp`: the InfluxDB tier the dashboard's range reads (raw points, 5-minute or 1-hour aggregates; docs/GRAFANA.md).
    Its query reads the `rp_config` points the hub keeps, and runs again whenever the time range changes."""
    return {
        "name": "rp",
        "label": "Độ phân giải",
        "description": "raw: từng lần kiểm tra; m5: trung bình 5 phút; h1: trung bình 1 giờ (tự chọn theo khoảng thời gian)",
        "type": "query",
        "datasource": DS,
        "query": RP_VARIABLE_QUERY,
        "refresh": 2,
        "includeAll": False,
        "multi": False,
        "sort": 0,
        "options": [],
        "hide": 0,
    }


def dashboard(
    uid: str,
    title: str,
    desc: str,
    tags: list[str],
    variables: list[dict[str, Any]],
    panels: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": tags,
        "timezone": "Asia/Ho_Chi_Minh",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [rp_variable(), *variables]},
        "annotations": {"list": []},
        "links": [
            {"title": "Dashboards vận hành", "type": "dashboards", "tags": ["ops"], "asDropdown": True}
        ],
        "panels": panels,
    }
