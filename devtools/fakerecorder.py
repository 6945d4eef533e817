"""A fake Hikvision recorder (NVR) for tests and the demo: the real ISAPI paths, XML documents and Digest auth.

Serves `GET /ISAPI/ContentMgmt/Storage`, `GET /ISAPI/ContentMgmt/record/tracks`, `GET /ISAPI/System/workingstatus`
and `POST /ISAPI/ContentMgmt/search` from a `RecorderState` that tests change while it runs (a disk fails, a
channel stops recording, old footage is overwritten). Requests without valid Digest credentials get 401 with a
`WWW-Authenticate: Digest` challenge (qop="auth", MD5), as the firmware does; a path it does not serve gets the
ISAPI `ResponseStatus` "Invalid Operation" with 403.

    python -m devtools.fakerecorder --port 8091 --channels 4
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import web
from defusedxml.ElementTree import fromstring

NS = "http://www.hikvision.com/ver20/XMLSchema"
DAY_S = 86400.0


@dataclass
class Disk:
    id: int
    status: str = "ok"  # ok, error, smartFailed, unformatted, idle …
    capacity_mb: int = 953869
    free_mb: int = 0  # a full disk overwriting the oldest footage: the normal state of an NVR


@dataclass
class Chan:
    enabled: bool = True
    recording: bool = True
    oldest_ts: float | None = None  # None: no footage


@dataclass
class RecorderState:
    username: str = "admin"
    password: str = "Hik12345!"
    realm: str = "DS-7608NI-K2"
    disks: list[Disk] = field(default_factory=lambda: [Disk(1)])
    channels: dict[int, Chan] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # "METHOD path" of each authorised request
    refused: int = 0

    @classmethod
    def with_channels(cls, n: int, days: float = 30, now: float | None = None) -> RecorderState:
        start = (now if now is not None else time.time()) - days * DAY_S
        return cls(channels={i: Chan(oldest_ts=start) for i in range(1, n + 1)})


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def _xml(body: str, status: int = 200) -> web.Response:
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
    return web.Response(text=text, status=status, content_type="application/xml")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def response_status(url: str, code: int, text: str, sub: str) -> str:
    return (
        f'<ResponseStatus version="1.0" xmlns="{NS}"><requestURL>{escape(url)}</requestURL>'
        f"<statusCode>{code}</statusCode><statusString>{text}</statusString>"
        f"<subStatusCode>{sub}</subStatusCode></ResponseStatus>"
    )


class FakeRecorder:
    def __init__(self, state: RecorderState) -> None:
        self.state = state
        self._nonces: set[str] = set()

    # --- Digest -------------------------------------------------------------------------------------------
    def _challenge(self) -> web.Response:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        self.state.refused += 1
        header = f'Digest qop="auth", realm="{self.state.realm}", nonce="{nonce}", stale="FALSE"'
        body = response_status("", 4, "Invalid Operation", "unAuthorized")
        return web.Response(
            text=body, status=401, content_type="application/xml", headers={"WWW-Authenticate": header}
        )

    def _authorised(self, request: web.Request) -> bool:
        h = request.headers.get("Authorization", "")
        if not h.startswith("Digest "):
            return False
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', h[7:]))
        st = self.state
        if p.get("username") != st.username or p.get("nonce") not in self._nonces:
            return False
        ha1 = _md5(f"{st.username}:{st.realm}:{st.password}")
        ha2 = _md5(f"{request.method}:{p.get('uri', '')}")
        if p.get("qop") == "auth":
            want = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        else:
            want = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        return secrets.compare_digest(want, p.get("response", ""))

    @web.middleware
    async def auth(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        if not self._authorised(request):
            return self._challenge()
        self.state.requests.append(f"{request.method} {request.path}")
        return await handler(request)

    # --- documents ----------------------------------------------------------------------------------------
    async def storage(self, request: web.Request) -> web.Response:
        hdds = "".join(
            f"<hdd><id>{d.id}</id><hddName>hdd{d.id}</hddName><hddPath></hddPath><hddType>SATA</hddType>"
            f"<status>{d.status}</status><property>RW</property><capacity>{d.capacity_mb}</capacity>"
            f"<freeSpace>{d.free_mb}</freeSpace></hdd>"
            for d in self.state.disks
        )
        return _xml(
            f'<storage version="1.0" xmlns="{NS}"><hddList size="{len(self.state.disks)}">{hdds}</hddList>'
            '<nasList size="0"></nasList></storage>'
        )

    async def tracks(self, request: web.Request) -> web.Response:
        items = []
        for n, ch in sorted(self.state.channels.items()):
            for sub in (1, 2):  # main and sub stream tracks, as an NVR lists them
                items.append(
                    f"<Track><id>{n * 100 + sub}</id><Channel>{n}</Channel>"
                    f"<Enable>{'true' if ch.enabled else 'false'}</Enable>"
                    "<Description>trackType=standard,sourceDescriptor=standard</Description>"
                    f"<TrackGUID>{n:08d}-0000-0000-0000-{sub:012d}</TrackGUID><Size>0</Size>"
                    "<Duration>P10DT0H0M0S</Duration><DefaultRecordingMode>CMR</DefaultRecordingMode>"
                    "<LoopEnable>true</LoopEnable></Track>"
                )
        return _xml(f'<TrackList version="1.0" xmlns="{NS}">{"".join(items)}</TrackList>')

    async def working_status(self, request: web.Request) -> web.Response:
        chans = "".join(
            f"<ChanStatus><chanNo>{n}</chanNo><enable>1</enable><online>1</online>"
            f"<record>{1 if ch.recording else 0}</record><recordStatus>0</recordStatus><signal>0</signal>"
            "<linkNum>1</linkNum><bitRate>2048</bitRate></ChanStatus>"
            for n, ch in sorted(self.state.channels.items())
        )
        hds = "".join(
            f"<HDStatus><hdNo>{d.id}</hdNo><enable>1</enable><status>{0 if d.status == 'ok' else 2}</status>"
            f"<volume>{d.capacity_mb}</volume><freeSpace>{d.free_mb}</freeSpace></HDStatus>"
            for d in self.state.disks
        )
        return _xml(
            f'<WorkingStatus version="2.0" xmlns="{NS}"><devStatus>0</devStatus>{chans}{hds}</WorkingStatus>'
        )

    async def search(self, request: web.Request) -> web.Response:
        try:
            doc = fromstring(await request.read())
            found = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in doc.iter()}
            track, search_id = int(found["trackID"]), found["searchID"]
        except Exception:
            body = response_status(request.path, 6, "Invalid XML Content", "badXmlContent")
            return _xml(body, 400)
        ch = self.state.channels.get(track // 100)
        usable = (
            ch is not None and ch.oldest_ts is not None and any(d.status == "ok" for d in self.state.disks)
        )
        head = f'<CMSearchResult version="2.0" xmlns="{NS}"><searchID>{search_id}</searchID>'
        if not usable:
            return _xml(f"{head}<responseStatus>true</responseStatus><responseStatusStrg>NO MATCHES"
                        "</responseStatusStrg><numOfMatches>0</numOfMatches><matchList/></CMSearchResult>")  # fmt: skip
        assert ch is not None and ch.oldest_ts is not None
        start = ch.oldest_ts
        item = (
            f"<searchMatchItem><sourceID>{{0000000000-0000-0000-0000-000000000000}}</sourceID>"
            f"<trackID>{track}</trackID><timeSpan><startTime>{_iso(start)}</startTime>"
            f"<endTime>{_iso(start + 3600)}</endTime></timeSpan><mediaSegmentDescriptor>"
            "<contentType>video</contentType><codecType>H.264-BP</codecType>"
            f"<playbackURI>rtsp://127.0.0.1/Streaming/tracks/{track}/?starttime={_iso(start)}</playbackURI>"
            "</mediaSegmentDescriptor><metadataMatches><metadataDescriptor>recordType.meta.std-cgi.com/time"
            "</metadataDescriptor></metadataMatches></searchMatchItem>"
        )
        return _xml(f"{head}<responseStatus>true</responseStatus><responseStatusStrg>MORE</responseStatusStrg>"
                    f"<numOfMatches>1</numOfMatches><matchList>{item}</matchList></CMSearchResult>")  # fmt: skip

    async def unknown(self, request: web.Request) -> web.Response:
        return _xml(response_status(request.path, 4, "Invalid Operation", "notSupport"), 403)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.auth])
        app.router.add_get("/ISAPI/ContentMgmt/Storage", self.storage)
        app.router.add_get("/ISAPI/ContentMgmt/record/tracks", self.tracks)
        app.router.add_get("/ISAPI/System/workingstatus", self.working_status)
        app.router.add_post("/ISAPI/ContentMgmt/search", self.search)
        app.router.add_route("*", "/{tail:.*}", self.unknown)
        return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--days", type=float, default=30, help="footage kept on every channel")
    ap.add_argument("--not-recording", type=int, action="append", default=[], metavar="N",
                    help="channel N is enabled but not being written (repeatable)")  # fmt: skip
    args = ap.parse_args()
    state = RecorderState.with_channels(args.channels, args.days)
    for n in args.not_recording:
        state.channels[n].recording = False
    web.run_app(FakeRecorder(state).app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
