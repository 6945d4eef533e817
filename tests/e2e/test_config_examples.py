"""The example and demo configs validate with the real models and say what they claim; the Grafana dashboards
parse, use the provisioned datasource, and their InfluxQL runs against a real InfluxDB holding hub-shaped data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from contract.configfile import load
from devtools import camsim_spec
from edge_agent.config import EdgeConfig
from hub.compose import HubConfig

ROOT = Path(__file__).resolve().parents[2]
HUB_EXAMPLE = ROOT / "config" / "hub.example.yaml"
DEMO = ROOT / "config" / "demo"


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted paths of every setting of a config model (nested sections included, free-form maps not)."""
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(prefix + name)
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= model_keys(ann, f"{prefix}{name}.")
    return keys


def yaml_keys_with_comments(text: str) -> set[str]:
    """Dotted key paths in a YAML text, counting commented-out `# key: value` lines as present."""
    keys, stack = set(), []
    for raw in text.splitlines():
        m = re.match(r"^(\s*)(#\s*)?([A-Za-z_][A-Za-z0-9_]*):(\s|$)", raw)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), m.group(3)])
        keys.add(path)
        stack.append((indent, m.group(3)))
    return keys


def test_hub_example_validates() -> None:
    cfg = load(HubConfig, HUB_EXAMPLE)
    assert cfg.mqtt.username == cfg.mqtt.client_id == "hub.main"
    assert cfg.districts["yen_dinh"].communes == {"dinh_long": "Định Long", "dinh_tan": "Định Tân"}


def test_hub_example_holds_no_secret() -> None:
    """The hub's password is a file it reads (0600), never a value in the config people copy."""
    cfg = load(HubConfig, HUB_EXAMPLE)
    assert cfg.mqtt.password is None and cfg.mqtt.password_file is not None
    assert cfg.influx.password is None and cfg.influx.token is None


def test_hub_example_documents_every_setting() -> None:
    """A setting added to hub/core/config.py must be shown (set or commented) in the example people copy."""
    documented = yaml_keys_with_comments(HUB_EXAMPLE.read_text(encoding="utf-8"))
    free_form = {"districts"}  # slug -> names: an example entry, not a fixed key
    missing = {k for k in model_keys(HubConfig) if k.split(".")[0] not in free_form} - documented
    assert not missing, f"config/hub.example.yaml does not mention: {sorted(missing)}"


def test_hub_example_defaults_are_true() -> None:
    """Values in the example that are not marked '(not the default' equal the model's defaults."""
    text = HUB_EXAMPLE.read_text(encoding="utf-8")
    defaults = HubConfig().model_dump(mode="json")
    marked = {"mqtt.username", "mqtt.password_file", "mqtt.client_id", "database.url", "districts"}
    checked = 0
    for section, values in defaults.items():
        if not isinstance(values, dict) or section == "districts":
            continue
        for key, value in values.items():
            if f"{section}.{key}" in marked:
                continue
            m = re.search(rf"^{section}:\n(?:(?:  .*|\s*)\n)*?  {key}: (.*)$", text, re.M)
            if m is None:
                continue  # commented out (v2-only settings)
            shown = yaml.safe_load(m.group(1))
            assert shown == value, f"{section}.{key}: example shows {shown!r}, the default is {value!r}"
            checked += 1
    assert checked > 20


def test_demo_configs_validate_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("DEMO_"):
            monkeypatch.delenv(name)
    hub = load(HubConfig, DEMO / "hub.yaml")
    edge = load(EdgeConfig, DEMO / "edge.yaml")
    assert hub.mqtt.port == edge.mqtt.port == 18830
    assert hub.http.port == 8080 and hub.influx.url == "http://127.0.0.1:18086"
    assert hub.database.url == "sqlite:///.run/hub/hub.db"


def test_demo_configs_follow_the_demo_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEMO_RUN_DIR", str(tmp_path))
    for var, port in (("MQTT", 1), ("INFLUX", 2), ("RTSP", 3), ("HANG", 4), ("HTTP", 5)):
        monkeypatch.setenv(f"DEMO_{var}_PORT", str(20000 + port))
    hub = load(HubConfig, DEMO / "hub.yaml")
    edge = load(EdgeConfig, DEMO / "edge.yaml")
    assert hub.mqtt.port == edge.mqtt.port == 20001
    assert hub.influx.url.endswith(":20002") and hub.http.port == 20005
    assert hub.http.public_url == "http://127.0.0.1:20005"
    assert hub.database.url == f"sqlite:///{tmp_path}/hub/hub.db" and hub.data_dir == tmp_path / "hub"
    assert {urlsplit(c.url).port for c in edge.cameras} == {20003, 20004}


def demo_simulator() -> camsim_spec.SimConfig:
    return camsim_spec.parse_config(json.loads((DEMO / "camsim.json").read_text("utf-8")), "camsim.json")


def test_demo_cameras_are_what_the_brief_promises() -> None:
    """≥ 8 cameras in two communes of one district: healthy ones, one black, one frozen, one flaky, one that
    never answers; every simulated camera watched, with a Vietnamese display name."""
    sim = demo_simulator()
    edge = load(EdgeConfig, DEMO / "edge.yaml")
    behaviours = {c.name: c.behaviour for c in sim.cameras}
    assert sorted(behaviours.values()).count("normal") >= 4
    for b in ("black", "frozen", "flaky"):
        assert b in behaviours.values()
    assert len(edge.cameras) >= 8
    assert {edge.commune_of(c) for c in edge.cameras} == {"dinh_long", "dinh_tan"}
    rtsp = {urlsplit(c.url).path.strip("/") for c in edge.cameras if urlsplit(c.url).port == 18554}
    hang = [c for c in edge.cameras if urlsplit(c.url).port == 18556]
    assert rtsp == set(behaviours) and len(hang) == 1
    for cam in edge.cameras:
        assert cam.name and not cam.name.isascii(), f"{cam.id}: give it a Vietnamese display name"


# --- Grafana dashboards ---------------------------------------------------------------------------------------

DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows
    return out


def test_there_is_a_camera_health_dashboard() -> None:
    titles = [json.loads(p.read_text("utf-8"))["title"] for p in DASHBOARDS]
    assert any("camera" in t.lower() for t in titles), titles


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (ROOT / "dashboards/provisioning/datasources/influxdb.yaml").read_text("utf-8")
    )
    uid = provisioned["datasources"][0]["uid"]
    uids = set()
    for path in DASHBOARDS:
        dash = json.loads(path.read_text("utf-8"))
        assert dash.get("uid") and dash["uid"] not in uids, f"{path.name}: missing or repeated uid"
        uids.add(dash["uid"])
        assert dash.get("id") is None, f"{path.name}: exported with an instance id; remove it"
        for panel in panels(dash):
            for t in panel.get("targets", []):
                assert t["datasource"]["uid"] == uid, f"{path.name}: {panel['title']} uses another datasource"
                assert t.get("rawQuery") and t.get("query"), (
                    f"{path.name}: {panel['title']}: raw InfluxQL expected"
                )


def grafana_expand(query: str) -> str:
    """What Grafana sends for a query with the default time range and the template variables set to All
    (`$rp`: raw points, what the hub's rp_config gives for the last hour)."""
    import time

    to_ms = int(time.time() * 1000)
    return (
        query.replace("$timeFilter", "time > now() - 1h")
        .replace("$__interval", "1m")
        .replace("$__from", str(to_ms - 3600_000))
        .replace("$__to", str(to_ms))
        .replace('"$rp"', '"raw"')
        .replace("/^$district$/", "/^.*$/")
        .replace("/^$commune$/", "/^.*$/")
    )


def hub_shaped_points(now_s: int) -> str:
    """Points as the hub writes them (docs/INFLUX.md): three cameras, ok / problem (black) / offline."""
    cams = [
        ("dinh_long", "cam-ok", True, "", 0, 10.0, 120.0),
        ("dinh_long", "cam-black", True, "black", 1, 10.0, 3.0),
        ("dinh_tan", "cam-down", False, "unreachable", 1, None, None),
    ]
    lines = []
    for i in range(10):
        t = (now_s - 300 + i * 30) * 1000
        for commune, cam, online, problems, count, fps, bright in cams:
            status = "ok" if online and not count else "problem" if online else "offline"
            fields = [
                f"online={str(online).lower()}",
                f"seq={i}i",
                f'status="{status}"',
                f"problem_count={count}i",
                f'problems="{problems}"',
            ]
            if fps is not None:
                fields += [
                    f"fps={fps}",
                    f"brightness={bright}",
                    "open_ms=1500.0",
                    "width=480i",
                    "height=270i",
                ]
            tags = f"agent=yd-edge-01,camera={cam},commune={commune},district=yen_dinh"
            lines.append(f"camera_health,{tags} {','.join(fields)} {t}")
        lines.append(
            "edge_status,agent=yd-edge-01,commune=dinh_long,district=yen_dinh "
            f'state="online",online=true,version="0.1.0",cameras=3i {t}'
        )
    return "\n".join(lines)


def test_dashboard_queries_run_on_real_influxdb(influxd: Any, influx_db: str) -> None:
    import asyncio
    import time
    import urllib.request

    from devtools.services import influx_query
    from hub.core.config import InfluxConfig
    from hub.core.influx_retention import RetentionV1

    # InfluxDB's layout as the hub makes it at start (raw points in "raw", the default; rp_config)
    layout = RetentionV1(InfluxConfig(url=influxd.url, database=influx_db), dict)
    asyncio.run(layout.apply(int(time.time() * 1000)))
    body = hub_shaped_points(int(time.time())).encode()
    url = f"http://127.0.0.1:{influxd.port}/write?db={influx_db}&precision=ms"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
        assert r.status == 204
    values: dict[str, Any] = {}
    # The overview's counters on a hand-made minimal data set; every dashboard's every panel runs on demo data
    # through the real hub in tests/e2e/test_dashboards.py.
    for path in [ROOT / "dashboards/camera-health-overview.json"]:
        dash = json.loads(path.read_text("utf-8"))
        queries = [(v["name"], v["query"]) for v in dash.get("templating", {}).get("list", [])]
        queries += [
            (f"{p['title']}/{t['refId']}", t["query"]) for p in panels(dash) for t in p.get("targets", [])
        ]
        for name, q in queries:
            result = influx_query(influxd.port, influx_db, grafana_expand(q))["results"][0]  # type: ignore[index]
            assert "error" not in result, f"{path.name}: {name}: {result.get('error')}"
            assert result.get("series"), f"{path.name}: {name} returns nothing on hub-shaped data"
            values[name] = result["series"]
    # The overview's counters say what the data holds: 3 reporting, 1 offline, 1 with a problem, 1 fine.
    firsts = {k: v[0]["values"][-1][1] for k, v in values.items() if k.endswith("/A") and len(v) == 1}
    assert firsts.get("Camera đang báo cáo/A") == 3
    assert firsts.get("Mất kết nối/A") == 1
    assert firsts.get("Có sự cố/A") == 1
    assert firsts.get("Hoạt động tốt/A") == 1
