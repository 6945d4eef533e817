"""The demo's loudspeakers: simulated receivers (`python -m broadcast.receiver`, null sink: they pace the audio in
real time and play it nowhere) for each demo commune, and one test broadcast through the hub's API once they are
online, so a newcomer sees a broadcast go out and come back as a report (/broadcasts/airings/{id})."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from demo_map import SPEAKER_POSITIONS

from broadcast.receiver.config import load_config

DISTRICT = "yen_dinh"


@dataclass(frozen=True)
class DemoSpeaker:
    commune: str
    id: str
    name: str
    village: str

    @property
    def child_name(self) -> str:
        return f"rx-{self.id}"


DEMO_SPEAKERS = [
    DemoSpeaker("dinh_long", "loa-cho-dl", "Cụm loa chợ Định Long", "thon-1"),
    DemoSpeaker("dinh_long", "loa-thon-3-dl", "Cụm loa thôn 3", "thon-3"),
    DemoSpeaker("dinh_tan", "loa-ubnd-dt", "Cụm loa UBND xã Định Tân", "thon-2"),
    DemoSpeaker("dinh_tan", "loa-truong-dt", "Cụm loa trường tiểu học", "thon-5"),
]
TEST_TEXT = (
    "Đài truyền thanh xã Định Long xin thông báo: đây là buổi phát thử của hệ thống truyền thanh thông minh. "
    "Xin cảm ơn bà con đã lắng nghe."
)


def write_receiver_config(run_dir: Path, sp: DemoSpeaker, provisioning: Path, http_port: int) -> Path:
    """A receiver config under run_dir/receivers/{id}/ on its provisioning file (broker address, its account,
    the CA), checked with the receiver's own model."""
    folder = run_dir / "receivers" / sp.id
    folder.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "receiver": {
            "id": sp.id,
            "district": DISTRICT,
            "commune": sp.commune,
            "name": sp.name,
            "village": sp.village,
        },
        "mqtt": {"provisioning": str(provisioning), "backoff_min_s": 0.5, "backoff_max_s": 5},
        "hub": {
            "allowed_urls": [f"http://127.0.0.1:{http_port}/media/", f"http://127.0.0.1:{http_port}/relay/"]
        },
        "cache": {"dir": "cache", "max_mb": 200},
        "sink": {"type": "null"},
        "health": {"interval_s": 30},
        # The hub's order-signing public key (made at its first start; scripts/demo.py makes sure it exists).
        "hub_public_key": str(run_dir / "hub" / "keys" / "orders_ed25519.pub"),
    }
    path = folder / "receiver.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_config(path)  # raises ConfigError naming the bad key
    return path


def register_devices(api: Api, edge_agent: str, cameras: list[tuple[str, str, str]]) -> None:
    """What an administrator does once: the demo's speakers (which would otherwise wait for approval) and the
    box's cameras outside its own commune (a box registers cameras only in its own commune), by CSV import.
    `cameras`: (commune, id, name)."""
    # No village column: the demo has no villages on the hub (the receivers report theirs).
    speakers = "district,commune,id,name,lat,lon\n" + "".join(
        f"{DISTRICT},{sp.commune},{sp.id},{sp.name},{','.join(map(str, SPEAKER_POSITIONS[sp.id]))}\n"
        for sp in DEMO_SPEAKERS
    )
    api.call("POST", "/api/v1/devices/import?kind=speakers&dry_run=false", csv=speakers)
    if cameras:
        rows = "".join(f"{DISTRICT},{c},{i},{n},{edge_agent}\n" for c, i, n in cameras)
        api.call(
            "POST",
            "/api/v1/devices/import?kind=cameras&dry_run=false",
            csv="district,commune,id,name,agent\n" + rows,
        )


# The 2025 reform in the demo: Định Tân is merged into Định Long. Its cameras (watched by the box of Định Long)
# and its loudspeaker receivers keep publishing on ops/v1/yen_dinh/dinh_tan/… and show under Định Long.
MERGED_FROM, MERGED_INTO = "dinh_tan", "dinh_long"


def merged_already(api: Api) -> bool:
    """A demo run on an earlier run's folder: the merge was made then (and the devices registered before it)."""
    areas = api.call("GET", "/api/v1/areas")["items"]
    return not any(a["district"] == DISTRICT and a["commune"] == MERGED_FROM for a in areas)


def merge_demo_commune(api: Api, say: Callable[[str], None]) -> None:
    """What an administrator does once after the reform (docs/ADMIN.md "Merging communes")."""
    body = {"from": f"{DISTRICT}/{MERGED_FROM}", "into": f"{DISTRICT}/{MERGED_INTO}"}
    out = api.call("POST", "/api/v1/areas/merge", body)
    moved = ", ".join(f"{n} {t}" for t, n in out["moved"].items())
    say(f"merged {out['from_name']} into {out['into_name']} ({moved}); its devices keep their topics")


def receiver_command(python: str, config: Path) -> list[str]:
    return [python, "-m", "broadcast.receiver", "--config", str(config)]


class Api:
    """The hub's JSON API with the demo admin's bearer token (no CSRF for tokens)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        timeout: float = 60,
        csv: str | None = None,
    ) -> Any:
        data = csv.encode() if csv is not None else json.dumps(body).encode() if body is not None else None
        kind = "text/csv" if csv is not None else "application/json"
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": kind},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())


class TestBroadcast:
    """Waits for the demo speakers of one commune, records a text-to-speech announcement, airs it at once (as
    an emergency: no approval step, marked for review) and reports what every speaker did."""

    def __init__(self, api: Api, say: Callable[[str], None], commune: str = "dinh_long") -> None:
        self.api = api
        self.say = say
        self.commune = commune
        self.thread = threading.Thread(target=self._run, name="demo-broadcast", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _speakers_online(self) -> int:
        base = f"/api/v1/speakers?district={DISTRICT}&commune={self.commune}&limit=1000"
        online, path = 0, base
        while True:  # every page of the list
            res = self.api.call("GET", path, timeout=10)
            online += sum(1 for s in res["speakers"] if s["status"] == "online")
            if not res.get("next_cursor"):
                return online
            path = f"{base}&cursor={urllib.parse.quote(res['next_cursor'])}"

    def _run(self) -> None:
        try:
            self._broadcast()
        except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:
            detail = (
                exc.read().decode("utf-8", "replace")[:300] if isinstance(exc, urllib.error.HTTPError) else ""
            )
            self.say(f"test broadcast failed: {exc} {detail}")

    def _broadcast(self) -> None:
        # Định Tân's receivers belong to Định Long since the merge (their topics still say dinh_tan).
        merged = (self.commune, MERGED_FROM) if self.commune == MERGED_INTO else (self.commune,)
        want = sum(1 for s in DEMO_SPEAKERS if s.commune in merged)
        deadline = time.monotonic() + 120
        while self._speakers_online() < want:
            if time.monotonic() > deadline:
                self.say("test broadcast skipped: the demo speakers did not come online")
                return
            time.sleep(2)
        content = self.api.call(
            "POST",
            "/api/v1/content/tts",
            {"title": "Phát thử hệ thống", "text": TEST_TEXT, "district": DISTRICT, "commune": self.commune},
            timeout=180,
        )
        prog = self.api.call(
            "POST",
            "/api/v1/programmes/emergency",
            {
                "district": DISTRICT,
                "commune": self.commune,
                "title": "Phát thử hệ thống truyền thanh",
                "items": [content["id"]],
                "target_kind": "commune",
                "confirm": True,
            },  # fmt: skip
        )
        airing = prog["airing_id"]
        self.say(f"test broadcast {airing} sent to the speakers of {self.commune}")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            a = self.api.call("GET", f"/api/v1/airings/{airing}", timeout=10)
            if a["finished_at"] is not None:
                skew = "—" if a["skew_ms"] is None else f"{a['skew_ms']:.1f} ms"
                self.say(
                    f"test broadcast {airing}: {a['status']}, {a['played']}/{a['targeted']} speakers played, "
                    f"start skew {skew}; report: {self.api.url}/broadcasts/airings/{airing}"
                )
                return
            time.sleep(2)
        self.say(f"test broadcast {airing}: no result after 3 minutes")
