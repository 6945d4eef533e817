"""Live from the phone end to end: a real hub (MQTT, SQL, web app, its supervised snapserver) and two real
receiver processes (file sinks); a simulated phone (aiohttp WebSocket client sending ffmpeg-made WebM/Opus
chunks of a sine with a marker tone) speaks; both receivers' sinks get the audio; the session ends on stop
and, in a second session, on a dropped phone after the grace; the recording of what went out is kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from broadcast.airings.models import Airing
from broadcast.content.models import BroadcastContent
from devtools.services import Service
from hub.compose import Hub
from tests.fixtures_hub import wait_for
from tests.live_hub_support import live_cookie, live_hub, live_receivers
from tests.live_support import chunks, phone_webm, read_s16_stereo, send_paced, tone_power
from tests.receiver_support import COMMUNE, DISTRICT

SPEAKERS = ("loa-1", "loa-2")


@pytest.fixture
async def running(tmp_path: Path, mosquitto: Service) -> AsyncIterator[Hub]:
    async with live_hub(tmp_path, mosquitto.port, SPEAKERS) as h:
        yield h


@pytest.fixture
def receivers(tmp_path: Path, mosquitto: Service, running: Hub) -> Iterator[dict[str, Path]]:
    with live_receivers(tmp_path, mosquitto.port, running, SPEAKERS) as dirs:
        yield dirs


async def test_phone_to_two_receivers_stop_and_drop(
    running: Hub, receivers: dict[str, Path], tmp_path: Path
) -> None:
    h = running
    live = h.broadcast.live
    assert live is not None
    seconds, chunk_s = 3.0, 0.25
    parts = chunks(phone_webm(tmp_path / "phone.webm", seconds), seconds, chunk_s)
    url = f"{h.config.http.public_url}/broadcasts/live/ws"
    # receivers online (their status reached the hub) before the phone speaks
    await wait_for(lambda: all(h.broadcast.speakers.get(f"{DISTRICT}/{COMMUNE}/{sp}") is not None
                               and h.broadcast.speakers.get(f"{DISTRICT}/{COMMUNE}/{sp}").online
                               for sp in SPEAKERS), 30, "receivers online")  # fmt: skip
    async with aiohttp.ClientSession(cookies=live_cookie(h)) as http:
        async with http.ws_connect(url, params={"priority": "emergency"}) as ws:
            hello: dict[str, Any] = await ws.receive_json(timeout=10)
            assert sorted(hello["speakers"]) == list(SPEAKERS), hello
            sid = hello["session"]
            for _ in range(100):
                if len(await live.listeners()) == 2:
                    break
                await asyncio.sleep(0.1)
            assert await live.listeners() == list(SPEAKERS)
            await send_paced(parts, chunk_s, ws.send_bytes)
            await asyncio.sleep(1.0)  # the Snapcast buffer plays out
            await ws.send_str("stop")
            ended = None
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and "ended" in msg.json():
                    ended = msg.json()["ended"]
                    break
            assert ended == "stopped"
        assert live.session is None and sid in live.recordings and live.recordings[sid].stat().st_size > 0

        # in the playout history like a programme: both speakers played it to the end of the session
        def aired() -> Airing | None:
            with h.db.session() as s:
                a = s.get(Airing, sid)
                return a if a is not None and a.finished_at is not None else None

        a = await wait_for(aired, 15, "live airing totalled")
        assert (a.status, a.targeted, a.played, a.priority) == ("aired", 2, 2, "emergency"), a.status
        assert a.title == "Phát trực tiếp (chutich)" and h.broadcast.dispatcher.rejected == 0
        for page in ("/broadcasts/history", f"/broadcasts/airings/{sid}"):
            async with http.get(f"{h.config.http.public_url}{page}") as resp:
                html = await resp.text()
                assert resp.status == 200 and "Phát trực tiếp (chutich)" in html, page
        for sp, d in receivers.items():
            raw = d / "played" / f"{sid}.live.raw"
            await wait_for(lambda r=raw: r.exists(), 10, f"{sp} live output")
            pcm = read_s16_stereo(raw)
            windows = [pcm[i : i + 4800] for i in range(0, len(pcm) - 4800, 2400)]
            assert sum(tone_power(w, 440) > 0.1 for w in windows) >= 20, sp
            assert max(tone_power(w, 2000) for w in windows) > 0.15, sp

        # a phone that goes away without a word: the session ends after the grace
        async with http.ws_connect(url, params={"priority": "emergency"}) as ws:
            second = (await ws.receive_json(timeout=10))["session"]
            await send_paced(parts[:4], chunk_s, ws.send_bytes)
        await wait_for(lambda: second in live.recordings, 15, "dropped session ended and recorded")
        assert live.session is None
    # what went out is in the content library, processed like a recording from the phone
    content_id = await wait_for(lambda: live.contents.get(sid), 60, "recording processed into the library")
    with h.db.session() as s:
        row = s.get(BroadcastContent, content_id)
        assert row is not None and row.source == "recording" and row.created_by == "chutich"
        assert row.title.startswith("Phát trực tiếp") and row.duration_s > seconds - 0.5
        assert row.loudness_lufs == pytest.approx(-16.0, abs=1.5)
