"""Every panel of every Grafana dashboard, run against a real InfluxDB filled the way production fills it.

Cameras, edge agents and speaker receivers go through the real hub (MQTT → hub → InfluxDB, hub_stats
included); finished airings are written with the dispatcher's own line builder (a real airing needs receivers
playing audio, which tests/ of the broadcast part cover). Then
each template variable is resolved as Grafana would, `$timeFilter` and `$__interval` are expanded, and every
target of every panel must run without error and return data. A panel added later that has nothing to show
on this data fails here.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcast.airings.models import Airing
from broadcast.airings.wire import airing_line
from contract import topics
from devtools.services import Service, influx_query
from hub.compose import Hub, HubConfig
from hub.core.influx_retention import RetentionV1
from hub.core.influx_tiers import RP_VARIABLE_QUERY
from tests.fixtures_hub import Publisher, wait_for

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
D = "yen_dinh"
# commune → agent, cameras (id, behaviour)
AREAS = {
    "dinh_long": ("dl-edge", [("cong-ubnd", "ok"), ("cho", "black"), ("truong", "offline")]),
    "dinh_tan": ("dt-edge", [("tram-y-te", "ok")]),
}
ROUNDS = 8


def health(behaviour: str, ts: float, seq: int, agent: str) -> dict[str, Any]:
    if behaviour == "offline":
        return {
            "ts": ts,
            "seq": seq,
            "online": False,
            "agent": agent,
            "problems": ["unreachable"],
            "reason": "timeout",
        }
    doc: dict[str, Any] = {
        "ts": ts,
        "seq": seq,
        "online": True,
        "agent": agent,
        "problems": ["black"] if behaviour == "black" else [],
        "fps": 10.0 - seq % 2,
        "width": 640,
        "height": 360,
        "open_ms": 900.0 + seq,
        "probe_ms": 2100.0,
        "brightness": 3.0 if behaviour == "black" else 118.0,
        "contrast": 40.0,
        "sharpness": 250.0,
        "motion": 1.5,
    }
    return doc


def play_demo(pub: Publisher, now: float) -> int:
    """A short scripted demo: agents come online, ROUNDS probes of every camera over the last half hour
    (device times), a queue that drains, and two messages the hub must refuse. Returns the health count."""
    n = 0
    for commune, (agent, cams) in AREAS.items():
        inventory = [{"id": c, "commune": commune, "name": f"Camera {c}"} for c, _ in cams]
        status = {
            "state": "online",
            "ts": now - 1800,
            "version": "0.3.0",
            "cameras": len(cams),
            "queue": 5,
            "inventory": inventory,
        }
        pub.publish(str(topics.edge_status(D, commune, agent)), status, retain=True)
        for i in range(ROUNDS):
            ts = now - 30 - (ROUNDS - 1 - i) * 240  # the last round is recent: "now" panels see it
            for cam, behaviour in cams:
                pub.publish(
                    str(topics.camera_health(D, commune, cam)),
                    health(behaviour, ts, i * len(cams) + n, agent),
                )
                n += 1
        pub.publish(
            str(topics.edge_status(D, commune, agent)), {**status, "ts": now - 5, "queue": 0}, retain=True
        )
    bad_topic = str(topics.camera_health(D, "dinh_long", "cong-ubnd"))
    pub.publish(bad_topic, b"not json")
    pub.publish(bad_topic, {"ts": now, "seq": 1, "online": "maybe"})
    return n


SPEAKERS = [  # commune, speaker, stays online, amplifier, signal
    ("dinh_long", "loa-thon-dong", True, "on", -71.0),
    ("dinh_long", "loa-cho", False, "on", -99.0),
    ("dinh_tan", "loa-ubnd", True, "fault", -80.0),
]


def play_speakers(pub: Publisher, now: float) -> int:
    """Receivers come online and report health (the hub's broadcast component writes speaker_health); one
    then drops off with its Last Will. Returns the number of messages."""
    n = 0
    for commune, spk, _, _, _ in SPEAKERS:
        status = {"state": "online", "ts": now - 1600, "version": "0.2.0", "name": f"Cụm loa {spk}"}
        pub.publish(str(topics.build(D, commune, "speaker", spk, "status")), status, retain=True)
        n += 1
    for i in range(6):
        for commune, spk, _, amp, signal in SPEAKERS:
            health = {"ts": now - 1500 + i * 30, "seq": i, "volume": 70, "amplifier": amp, "signal_dbm": signal - i,
                      "disk_free_mb": 900.0 - i, "clock_offset_ms": 1.5 * i,
                      "playing": "a-0" if i < 3 else None, "level_dbfs": -24.0 - i if i < 3 else None}  # fmt: skip
            pub.publish(str(topics.build(D, commune, "speaker", spk, "health")), health)
            n += 1
    for commune, spk, stays, _, _ in SPEAKERS:
        if not stays:
            will = {"state": "offline", "ts": now - 1600, "version": "0.2.0"}
            pub.publish(str(topics.build(D, commune, "speaker", spk, "status")), will, retain=True)
            n += 1
    return n


def airing_lines(now: float) -> str:
    """Finished airings through the dispatcher's own writer (broadcast/airings/wire.py airing_line)."""
    airings = [
        ("dinh_long", "normal", 2, 2, 14.0, "aired", 1200),
        ("dinh_long", "emergency", 2, 1, 31.0, "partial", 900),
        ("dinh_tan", "priority", 1, 0, None, "failed", 600),
    ]
    out = []
    for n, (commune, prio, targeted, played, skew, status, ago) in enumerate(airings):
        start = datetime.fromtimestamp(now - ago, UTC).replace(tzinfo=None)
        a = Airing(id=f"a-{n}", programme_id=n + 1, occurrence_at=start, start_at=start, district=D,
                   commune=commune, title=f"Bản tin {n}", priority=prio, status=status, targeted=targeted,
                   played=played, skew_ms=skew)  # fmt: skip
        out.append(airing_line(a))
    return "\n".join(out)


def write_lines(influxd: Service, db: str, body: str) -> None:
    url = f"http://127.0.0.1:{influxd.port}/write?db={db}&precision=ms"
    with urllib.request.urlopen(urllib.request.Request(url, data=body.encode()), timeout=10) as r:
        assert r.status == 204


def count(influxd: Service, db: str, q: str) -> int:
    res = influx_query(influxd.port, db, q)["results"][0]  # type: ignore[index]
    series = res.get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


@dataclass(frozen=True)
class Range:
    """A dashboard time range ending now, as Grafana expands it."""

    span_s: int
    interval: str  # what Grafana makes of $__interval for this range

    def expand(self, query: str, values: dict[str, str]) -> str:
        to_ms = int(time.time() * 1000)
        q = query.replace("$timeFilter", f"time > now() - {self.span_s}s").replace(
            "$__interval", self.interval
        )
        q = q.replace("$__from", str(to_ms - self.span_s * 1000)).replace("$__to", str(to_ms))
        for name, value in values.items():
            q = q.replace(f"${name}", value)
        assert "$" not in q.replace("$/", ""), f"unexpanded variable in {q}"
        return q


# The last hour, a 1 s interval (the data spans seconds of hub_stats); a week, as Grafana draws it (5 minutes).
HOUR = Range(3600, "1s")
WEEK = Range(7 * 86400, "5m")


def expand(query: str, values: dict[str, str]) -> str:
    return HOUR.expand(query, values)


def resolve_variables(influxd: Service, db: str, dash: dict[str, Any], rng: Range = HOUR) -> dict[str, str]:
    """Runs each variable's query in order (later ones use earlier ones): All → `.*`, else the first value."""
    values: dict[str, str] = {}
    for v in dash.get("templating", {}).get("list", []):
        res = influx_query(influxd.port, db, rng.expand(v["query"], values))["results"][0]  # type: ignore[index]
        assert "error" not in res and res.get("series"), f"{dash['title']}: variable {v['name']}: {res}"
        found = sorted(row[1] for row in res["series"][0]["values"])
        values[v["name"]] = v.get("allValue", ".*") if v.get("includeAll") else found[0]
    return values


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows
    return out


@pytest.fixture
async def filled(hub_config: HubConfig, influxd: Service, influx_db: str, mosquitto: Service) -> str:
    hub = Hub(hub_config)
    hub.stats_period_s = 0.3  # several hub_stats points within seconds (10 s in production)
    await hub.start()
    pub = Publisher(mosquitto.port)
    try:
        now = time.time()
        sent_health = play_demo(pub, now)
        sent = sent_health + 4 + play_speakers(pub, now)  # + the agents' status messages
        await wait_for(
            lambda: hub.stats.accepted >= sent and sum(hub.stats.rejected.values()) >= 2, 20, "ingest"
        )
        await hub.flush()
        q = 'SELECT count("problem_count") FROM "camera_health"'
        await wait_for(lambda: count(influxd, influx_db, q) == sent_health, 20, "health points in InfluxDB")
        # once the hub has made InfluxDB's layout, as the dispatcher writes through the hub (into "raw")
        write_lines(influxd, influx_db, airing_lines(now))
        q = 'SELECT count("volume") FROM "speaker_health" WHERE "online" = 0'
        await wait_for(lambda: count(influxd, influx_db, q) >= 1, 20, "the speaker's Last Will in InfluxDB")
        q = 'SELECT count("received") FROM "hub_stats" WHERE "rejected_not_json" > 0'
        # rates (non_negative_derivative per 1 s bucket) need points in several buckets
        await wait_for(lambda: count(influxd, influx_db, q) >= 8, 20, "hub_stats points after the rejections")
    finally:
        pub.close()
        await hub.stop()
    return influx_db


def run_every_panel(influxd: Service, db: str, rng: Range, tier: str) -> dict[str, dict[str, Any]]:
    """Every target of every dashboard over `rng`, which must read `tier`; each must run and return data
    (rates excepted in the downsampled series: the demo's hub_stats span seconds, one 5-minute bucket)."""
    results: dict[str, dict[str, Any]] = {}
    for path in DASHBOARDS:
        dash = json.loads(path.read_text("utf-8"))
        values = resolve_variables(influxd, db, dash, rng)
        assert values.get("rp") == tier, f"{path.name}: $rp is {values.get('rp')} for {rng}"
        assert panels(dash), f"{path.name}: no panels"
        for panel in panels(dash):
            if panel.get("type") == "row":
                continue
            assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"
            for t in panel["targets"]:
                name = f"{path.stem}/{panel['title']}/{t['refId']}"
                res = influx_query(influxd.port, db, rng.expand(t["query"], values))["results"][0]  # type: ignore[index]
                assert "error" not in res, f"{name}: {res.get('error')}\n{t['query']}"
                rate = "non_negative_derivative" in t["query"]
                assert res.get("series") or (rate and tier != "raw"), f"{name} returns nothing\n{t['query']}"
                results[name] = res
    return results


async def test_every_panel_returns_data(filled: str, influxd: Service) -> None:
    assert {p.name for p in DASHBOARDS} >= {
        "camera-health-overview.json",
        "commune-detail.json",
        "speakers-broadcasts.json",
        "hub-internals.json",
    }
    results = run_every_panel(influxd, filled, HOUR, "raw")

    def last(name: str) -> Any:
        return results[name]["series"][0]["values"][-1][1]

    # The numbers say what the demo holds. Commune detail (first commune: dinh_long): 2 of 3 cameras with a
    # picture, one black, one unreachable, its agent online.
    assert last("commune-detail/Camera trực tuyến/A") == 2
    assert last("commune-detail/Camera trực tuyến/B") == 3
    assert last("commune-detail/Có sự cố/A") == 1
    assert last("commune-detail/Mất kết nối/A") == 1
    assert last("commune-detail/Hộp giám sát trực tuyến/A") == 1
    table = results["commune-detail/Tình trạng từng camera/A"]["series"]
    assert sorted(s["tags"]["camera"] for s in table) == ["cho", "cong-ubnd", "truong"]
    # Speakers: 2 online, 1 offline, 1 amplifier fault; 3 of 5 targeted speakers played.
    assert last("speakers-broadcasts/Loa trực tuyến/A") == 2
    assert last("speakers-broadcasts/Loa mất kết nối/A") == 1
    assert last("speakers-broadcasts/Bộ khuếch đại lỗi/A") == 1
    assert last("speakers-broadcasts/Tỉ lệ loa phát được/A") == pytest.approx(3 / 5)
    # Hub internals: the hub counted what it ingested and refused.
    assert last("hub-internals/Camera \u002f hộp giám sát/A") == 4
    assert last("hub-internals/Camera \u002f hộp giám sát/B") == 2
    rejected = results["hub-internals/Tin bị từ chối theo lý do/A"]["series"][0]["columns"]
    assert any("rejected_not_json" in c for c in rejected) and any("rejected_invalid" in c for c in rejected)


def test_every_dashboard_picks_its_tier_by_range() -> None:
    """The time-series queries read `$rp`; only the "last 5 minutes" stats read raw points by name (the
    default policy)."""
    for path in DASHBOARDS:
        dash = json.loads(path.read_text("utf-8"))
        rp = dash["templating"]["list"][0]
        assert rp["name"] == "rp" and rp["query"] == RP_VARIABLE_QUERY and rp["refresh"] == 2
        for panel in panels(dash):
            for t in panel.get("targets", []):
                q = t["query"]
                if "$timeFilter" in q:
                    assert 'FROM "$rp".' in q and not re.search(r'FROM "(?!\$rp)[a-z_]+"', q), q
                else:
                    assert "now() - 5m" in q and "$rp" not in q, q


async def test_long_ranges_read_the_downsampled_series(
    filled: str, influxd: Service, hub_config: HubConfig
) -> None:
    """A week's view reads the 5-minute series (built here by the continuous queries' own SELECT … INTO, as
    influxd would every 5 minutes) and says the same as the raw points did."""
    now = datetime.now(UTC)
    # hub_stats is downsampled with the fields InfluxDB holds (the hub that wrote them has stopped)
    await RetentionV1(hub_config.influx, dict).backfill(now - timedelta(hours=1), now)
    results = run_every_panel(influxd, filled, WEEK, "m5")

    def last(name: str) -> Any:
        return results[name]["series"][0]["values"][-1][1]

    assert last("commune-detail/Camera trực tuyến/A") == 2
    assert last("commune-detail/Camera trực tuyến/B") == 3
    assert last("commune-detail/Có sự cố/A") == 1
    assert last("speakers-broadcasts/Tỉ lệ loa phát được/A") == pytest.approx(3 / 5)
    assert last("hub-internals/Camera \u002f hộp giám sát/A") == 4
