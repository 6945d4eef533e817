"""Relays without the network: the upstream watch (fixed times), URL rules, the allow-list API (roles, audit,
validation), relay content and how a programme that plays it becomes a relay order, the receivers' chunk feed."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.content.models import BroadcastContent
from broadcast.receiver.relay import RelayStream, resample
from broadcast.relays.allowlist import protocol_of
from broadcast.relays.models import RelaySession
from broadcast.relays.monitor import Watch, classify
from broadcast.relays.streamer import ffmpeg_args, loop_slice
from broadcast.scheduling import plan
from contract import RelayPlan
from hub.core.audit import AuditEntry
from tests.fixtures_web import WebEnv

D, C = "dinh-hoa", "dinh-long"
T0 = 1_780_000_000.0


# --- the upstream watch -----------------------------------------------------------------------------------
def test_short_blips_are_not_gaps_and_a_long_one_is_dated_from_its_start() -> None:
    w = Watch(chunk_s=1.0, gap_after_s=3.0)
    states = ["ok", "silent", "silent", "ok", "lost", "silent", "lost", "lost", "ok", "ok"]
    events = [w.step(T0 + i, s, has_fallback=True) for i, s in enumerate(states)]  # type: ignore[arg-type]
    assert [i for i, (_, began, _) in enumerate(events) if began] == [6]
    assert [i for i, (_, _, ended) in enumerate(events) if ended] == [8]
    [gap] = w.gaps
    assert (gap.start, gap.end, gap.kind, gap.fallback) == (T0 + 4, T0 + 8, "lost", True)
    # chunks 1–2 were a blip (aired as they came); 4–7 a gap, of which 6–7 came from the fallback
    assert (w.relayed_s, w.gap_s, w.fallback_s) == (4.0, 4.0, 2.0)
    assert [fill for fill, _, _ in events] == [False] * 6 + [True, True, False, False]


def test_a_gap_open_at_the_end_is_closed_and_silence_stays_silence() -> None:
    w = Watch(chunk_s=2.0, gap_after_s=4.0)
    for i in range(3):
        w.step(T0 + 2 * i, "silent", has_fallback=False)
    w.close(T0 + 6)
    [gap] = w.gaps
    assert (gap.kind, gap.fallback, gap.end, w.fallback_s) == ("silent", False, T0 + 6, 0.0)


def test_classify_and_loop_slice() -> None:
    assert classify(100, 1000, -20.0, -55.0) == "lost"
    assert classify(1000, 1000, -70.0, -55.0) == "silent"
    assert classify(600, 1000, -20.0, -55.0) == "ok"
    assert loop_slice(b"abcde", 3, 7) == b"deabcde"


@pytest.mark.parametrize(
    ("url", "proto"),
    [
        ("http://vov.vn/live/vov1.mp3", "http"),
        ("https://x.vn/a/index.m3u8", "hls"),
        ("rtsp://10.0.0.5/radio", "rtsp"),
    ],
)
def test_allowed_url_shapes(url: str, proto: str) -> None:
    assert protocol_of(url) == proto


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "concat:a|b", "http://user:pw@x.vn/s", "http:///nohost", "ftp://x.vn/a.mp3"]
)
def test_refused_url_shapes(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        protocol_of(url)


def test_ffmpeg_reads_only_network_protocols() -> None:
    args = ffmpeg_args("https://x.vn/a/index.m3u8", 16000, 5)
    assert args[args.index("-protocol_whitelist") + 1] == "http,https,tcp,tls,rtsp,rtp,udp,crypto,hls"
    assert "-rtsp_transport" in ffmpeg_args("rtsp://10.0.0.5/radio", 16000, 5)


# --- the receivers' chunk feed ----------------------------------------------------------------------------
class _Chunks(BaseHTTPRequestHandler):
    have: dict[int, bytes] = {}

    def do_GET(self) -> None:
        k = int(self.path.rsplit("/", 1)[1].split(".")[0])
        data = self.have.get(k)
        self.send_response(200 if data is not None else 404)
        self.end_headers()
        if data is not None:
            self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_chunk_feed_keeps_the_timeline_when_a_chunk_is_late() -> None:
    rate, chunk_s = 16000, 0.5
    tone = (np.full(int(rate * chunk_s), 8000, dtype="<i2")).tobytes()
    _Chunks.have = {0: tone, 2: tone}  # chunk 1 never comes
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Chunks)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        plan_ = RelayPlan(airing="r", start_at=time.time() + 0.6, priority="normal", chunks=3, chunk_s=chunk_s,
                          chunk_url=f"http://127.0.0.1:{srv.server_port}/relay/x/{{seq}}.pcm", rate=rate)  # fmt: skip
        feed = RelayStream(plan_, 48000, timeout_s=1)
        feed.start()
        while time.time() < plan_.start_at:
            time.sleep(0.02)
        out = b""
        for i, block in enumerate(feed.blocks(1920)):
            out += block
            if i % 25 == 24:  # the player's pace: 25 blocks of 10 ms = one chunk
                time.sleep(max(0.0, plan_.start_at + (i + 1) / 50 - time.time()))
        x = np.frombuffer(out, dtype="<i2")
        assert len(x) == 3 * 24000  # three chunks at the sink's rate, whatever arrived
        assert (x[:24000] == 8000).all() and (x[24000:48000] == 0).all() and (x[48000:] == 8000).all()
        assert feed.missing == 1 and feed.fetched == 2
    finally:
        srv.shutdown()


def test_resample_keeps_duration_and_level() -> None:
    t = np.arange(16000) / 16000
    x = (np.sin(2 * np.pi * 300 * t) * 10000).astype("<i2").tobytes()
    y = np.frombuffer(resample(x, 16000, 48000), dtype="<i2")
    assert len(y) == 48000 and abs(np.sqrt(np.mean(y.astype(float) ** 2)) - 10000 / np.sqrt(2)) < 100


# --- the allow-list and relay content on the web ------------------------------------------------------------
@pytest.fixture
async def env(web: WebEnv) -> WebEnv:
    web.add_area(D, "", "Huyện Định Hoá")
    web.add_area(D, C, "Xã Định Long")
    web.add_user("quantri", role="admin")
    web.add_user("canbo", role="officer", district=D, commune=C)
    return web


async def _as(env: WebEnv, user: str) -> None:
    env.client.session.cookie_jar.clear()  # a fresh browser per user
    assert (await env.login(user)).status == 303


async def _post(env: WebEnv, path: str, body: dict[str, Any], method: str = "POST") -> Any:
    csrf = await env.page_csrf("/broadcasts/relays")
    return await env.client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})


async def test_allow_list_is_the_administrators_and_audited(env: WebEnv) -> None:
    await _as(env, "canbo")
    r = await _post(env, "/api/v1/relay-upstreams", {"name": "VOV1", "url": "http://vov.vn/vov1.mp3"})
    assert r.status == 403
    await _as(env, "quantri")
    r = await _post(env, "/api/v1/relay-upstreams", {"name": "VOV1", "url": "http://vov.vn/vov1.mp3"})
    assert r.status == 201, await r.text()
    up = await r.json()
    assert up["protocol"] == "http" and up["enabled"] is True
    r = await _post(env, "/api/v1/relay-upstreams", {"name": "Trùng", "url": "http://vov.vn/vov1.mp3"})
    assert r.status == 409
    r = await _post(env, "/api/v1/relay-upstreams", {"name": "Tệp", "url": "file:///etc/passwd"})
    assert r.status == 422 and "url" in (await r.json())["error"]["message"]
    r = await _post(env, "/api/v1/relay-upstreams", {"name": "X", "url": "http://a.vn/s", "extra": 1})
    assert r.status == 400
    r = await _post(env, f"/api/v1/relay-upstreams/{up['id']}",
                    {"name": "VOV1", "url": "https://vov.vn/hls/index.m3u8", "enabled": False}, "PUT")  # fmt: skip
    assert r.status == 200 and (await r.json())["protocol"] == "hls"
    with env.db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["relay_upstream.add", "relay_upstream.update"]
    csrf = await env.page_csrf("/broadcasts/relays")
    r = await env.client.delete(f"/api/v1/relay-upstreams/{up['id']}", headers={"X-CSRF-Token": csrf})
    assert r.status == 200


async def test_relay_content_becomes_a_relay_order(env: WebEnv) -> None:
    await _as(env, "quantri")
    up = await (
        await _post(env, "/api/v1/relay-upstreams", {"name": "VOV1", "url": "http://vov.vn/1.mp3"})
    ).json()
    off = await (await _post(env, "/api/v1/relay-upstreams",
                             {"name": "Tắt", "url": "http://vov.vn/2.mp3", "enabled": False})).json()  # fmt: skip
    with env.db.session() as s, s.begin():
        rec = BroadcastContent(district=D, commune=C, title="Nhạc chờ", source="upload", original_path="o",
                               path="media/x.mp3", sha256="ab" * 32, size=10, duration_s=60, loudness_lufs=-16,
                               true_peak_dbtp=-2, created_by="t", created_at=datetime(2026, 12, 1))  # fmt: skip
        s.add(rec)
        s.flush()
        rec_id = rec.id
    await _as(env, "canbo")
    body = {
        "title": "Tiếp âm VOV sáng",
        "upstream_id": up["id"],
        "duration_min": 30,
        "fallback_content_id": rec_id,
    }
    r = await _post(env, "/api/v1/content/relay", body)
    assert r.status == 201, await r.text()
    item = await r.json()
    assert item["source"] == "relay" and item["duration_s"] == 1800 and item["media_url"] is None
    assert (await _post(env, "/api/v1/content/relay", {**body, "upstream_id": off["id"]})).status == 422
    assert (
        await _post(env, "/api/v1/content/relay", {**body, "fallback_content_id": item["id"]})
    ).status == 422
    page = await (await env.client.get("/broadcasts/relays")).text()
    assert "Tiếp âm VOV sáng" in page and 'id="relay-form"' in page and 'id="upstream-form"' not in page
    library = await (await env.client.get("/broadcasts/content")).text()
    assert "Tiếp âm trực tiếp từ luồng «VOV1»" in library and "/media/.mp3" not in library

    with env.db.session() as s:
        rows = [(item["id"], s.get(BroadcastContent, item["id"]))]
        items, problem = plan.play_items(rows)
        relay, why = plan.relay_of(s, rows)
        assert items == () and problem is None and why is None and relay is not None
        assert (relay.url, relay.duration_s, relay.fallback and relay.fallback.sha256) == (
            "http://vov.vn/1.mp3", 1800, "ab" * 32,
        )  # fmt: skip
        mixed = [*rows, (rec_id, s.get(BroadcastContent, rec_id))]
        assert "duy nhất" in (plan.play_items(mixed)[1] or "")


async def test_airing_report_shows_the_relay(env: WebEnv) -> None:
    start = datetime(2026, 12, 7, 22, 30)  # 05:30 in Hà Nội
    with env.db.session() as s, s.begin():
        s.add(Airing(id="tiep-am-1", programme_id=9, occurrence_at=start, start_at=start, district=D, commune=C,
                     title="Tiếp âm VOV sáng", priority="normal", status="aired", targeted=2, played=2,
                     order={"relay": {"name": "VOV1", "duration_s": 1800}}))  # fmt: skip
        for sp in ("loa-1", "loa-2"):
            s.add(AiringReceipt(airing_id="tiep-am-1", speaker_key=f"{D}/{C}/{sp}", state="finished"))
        s.add(RelaySession(airing_id="tiep-am-1", upstream_id=1, url="http://vov.vn/1.mp3", started_at=start,
                           ended_at=start, relayed_s=1740.0, gap_s=60.0, fallback_s=60.0,
                           gaps=[{"start": T0, "end": T0 + 60, "kind": "lost", "fallback": True}]))  # fmt: skip
    await _as(env, "canbo")
    body = await (await env.client.get("/api/v1/airings/tiep-am-1/relay")).json()
    assert (body["minutes_relayed"], body["gap_minutes"], body["speakers_played"]) == (
        29.0,
        1.0,
        ["loa-1", "loa-2"],
    )
    assert body["gaps"][0]["kind"] == "lost" and body["gaps"][0]["end"].endswith("Z")
    html = await (await env.client.get("/broadcasts/airings/tiep-am-1")).text()
    assert "Tiếp âm: VOV1" in html and "29.0 phút" in html and "đã phát bản dự phòng" in html
    assert (await env.client.get("/api/v1/airings/khong-co/relay")).status == 404
