"""The edge agent reading a recorder through ISAPI, against the fake Hikvision NVR (real paths, XML, Digest)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from contract import RecorderHealth, decode, encode, topics
from devtools.fakerecorder import Disk, FakeRecorder, RecorderState
from devtools.fakerecorder_dahua import FakeDahua
from edge_agent import isapi
from edge_agent.config import EdgeConfig, RecorderConfig
from edge_agent.recorders import LookFailed, RecorderWatcher, health_of, look

NOW = 1_780_000_000.0
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def nvr() -> AsyncIterator[tuple[RecorderState, str]]:
    state = RecorderState.with_channels(4, days=21, now=NOW)
    runner = web.AppRunner(FakeRecorder(state).app())
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _cfg(url: str, password: str = "Hik12345!", **kw: object) -> RecorderConfig:
    return RecorderConfig.model_validate(
        {
            "id": "nvr1",
            "url": url,
            "username": "admin",
            "password": password,
            "channels": {1: "cong-ubnd", 2: "cho"},
            "timeout_s": 2,
            **kw,
        }  # fmt: skip
    )


async def test_a_look_reads_disks_channels_and_footage_kept(nvr: tuple[RecorderState, str]) -> None:
    state, url = nvr
    state.channels[2].recording = False
    state.channels[1].oldest_ts = NOW - 9.5 * 86400
    disks, channels = await asyncio.to_thread(look, _cfg(url), NOW)
    assert [(d.id, d.state, d.capacity_mb, d.free_mb) for d in disks] == [("1", "ok", 953869, 0)]
    by_no = {c.channel: c for c in channels}
    assert sorted(by_no) == [1, 2, 3, 4]  # every enabled track, searched only where a camera is mapped
    assert by_no[1].camera == "cong-ubnd" and by_no[1].recording is True
    assert by_no[2].camera == "cho" and by_no[2].recording is False and by_no[2].enabled is True
    assert by_no[3].oldest_ts is None
    h = health_of(_cfg(url), NOW, 7, "box1", (disks, channels))
    assert h.online and h.oldest_ts == NOW - 9.5 * 86400 and h.days_kept == 9.5
    assert "POST /ISAPI/ContentMgmt/search" in state.requests
    assert decode(topics.recorder_health("d", "c", "nvr1"), encode(h)) == h  # it passes the contract


async def test_a_failed_disk_and_a_wrong_password(nvr: tuple[RecorderState, str]) -> None:
    state, url = nvr
    state.disks = [Disk(1, status="smartFailed"), Disk(2, status="unformatted")]
    disks, _ = await asyncio.to_thread(look, _cfg(url), NOW)
    assert [(d.state, d.raw) for d in disks] == [("failed", "smartFailed"), ("unformatted", "unformatted")]
    with pytest.raises(LookFailed, match="từ chối tài khoản"):
        await asyncio.to_thread(look, _cfg(url, password="wrong"), NOW)


async def test_the_watcher_reports_an_unreachable_recorder_offline() -> None:
    sent: list[RecorderHealth] = []

    async def send(cfg: RecorderConfig, h: RecorderHealth) -> None:
        sent.append(h)

    watcher = RecorderWatcher([_cfg(f"http://127.0.0.1:{_port()}")], "box1", send, clock=lambda: NOW)
    h = await watcher.look_once(watcher.recorders[0])
    assert sent == [h] and not h.online and h.error == "Không kết nối được tới đầu ghi"
    assert watcher.failures == 1 and h.disks == [] and h.channels == []


def test_parsers_read_firmware_documents() -> None:
    storage = (
        '<?xml version="1.0" encoding="UTF-8"?><storage version="1.0" xmlns="http://www.std-cgi.com/ver20/XMLSchema">'
        "<hddList><hdd><id>3</id><status>idle</status><capacity>1907729</capacity><freeSpace>1024</freeSpace></hdd>"
        "<hdd><id>4</id><status>notexist</status></hdd></hddList></storage>"
    )
    assert [(d.id, d.state, d.free_mb) for d in isapi.parse_storage(storage)] == [
        ("3", "ok", 1024.0),
        ("4", "missing", None),
    ]
    naive = "<CMSearchResult><matchList><searchMatchItem><timeSpan><startTime>2026-05-01T07:00:00</startTime>" \
        "</timeSpan></searchMatchItem></matchList></CMSearchResult>"  # fmt: skip
    assert isapi.parse_search(naive, TZ) == isapi.parse_time("2026-05-01T00:00:00Z", TZ)
    assert isapi.parse_search("<CMSearchResult><matchList/></CMSearchResult>", TZ) is None
    with pytest.raises(isapi.IsapiError):
        isapi.parse_storage('<!DOCTYPE x [<!ENTITY a "b">]><storage>&a;</storage>')  # entities refused
    assert (
        isapi.parse_error(
            "<ResponseStatus><statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode>"
            "</ResponseStatus>"
        )
        == "Invalid Operation (notSupport)"
    )


def test_config_refuses_unknown_keys_and_keeps_the_password_out_of_logs() -> None:
    base = {"agent": {"id": "box1", "district": "d", "commune": "c"}}
    rec = {"id": "nvr1", "url": "http://10.0.0.5", "username": "admin", "password": "s3cret!"}
    cfg = EdgeConfig.model_validate({**base, "recorders": [rec]})
    assert "s3cret!" in cfg.secrets() and "s3cret!" not in repr(cfg.recorders[0])
    with pytest.raises(ValueError, match="colour"):
        EdgeConfig.model_validate({**base, "recorders": [{**rec, "colour": "red"}]})
    with pytest.raises(ValueError, match="not in the URL"):
        EdgeConfig.model_validate({**base, "recorders": [{**rec, "url": "http://admin:x@10.0.0.5"}]})


async def test_a_dahua_recorder_through_its_cgi() -> None:
    state = RecorderState.with_channels(4, days=12, now=NOW)
    state.channels[2].enabled = False
    state.disks = [Disk(1, capacity_mb=2048, free_mb=512)]
    fake = FakeDahua(state)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        cfg = _cfg(f"http://127.0.0.1:{port}", api="dahua")
        disks, channels = await asyncio.to_thread(look, cfg, NOW)
        assert [(d.id, d.state, d.capacity_mb, d.free_mb) for d in disks] == [
            ("/dev/sda", "ok", 2048.0, 512.0)
        ]
        by_no = {c.channel: c for c in channels}
        assert (
            by_no[1].enabled is True and by_no[1].recording is None and by_no[1].oldest_ts == NOW - 12 * 86400
        )
        assert by_no[2].enabled is False and by_no[2].recording is False
        assert fake.finders == {}  # every finder handle closed and destroyed
        state.disks = [Disk(1, status="error")]
        disks, _ = await asyncio.to_thread(look, cfg, NOW)
        assert [(d.state, d.raw) for d in disks] == [("failed", "Error")]
        with pytest.raises(LookFailed, match="từ chối tài khoản"):
            await asyncio.to_thread(look, _cfg(f"http://127.0.0.1:{port}", password="x", api="dahua"), NOW)
    finally:
        await runner.cleanup()
