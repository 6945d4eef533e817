"""A fake Dahua recorder (NVR/XVR): the CGI paths and `key=value` answers of the Dahua HTTP API, Digest auth.

Same state as the Hikvision fake (devtools/fakerecorder.py `RecorderState`), served as Dahua firmware does:
`storageDevice.cgi?action=getDeviceAllInfo`, `configManager.cgi?action=getConfig&name=RecordMode` and the
`mediaFileFind.cgi` finder (factory.create → findFile → findNextFile → close → destroy). An unknown request
answers 400 "Error\\r\\nBad Request!" as the firmware does.

    python -m devtools.fakerecorder_dahua --port 8092 --channels 4
"""

from __future__ import annotations

import argparse
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from devtools.fakerecorder import FakeRecorder, RecorderState

VN = ZoneInfo("Asia/Ho_Chi_Minh")
GB = 1024**3


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body.replace("\n", "\r\n"), status=status, content_type="text/plain")


BAD = "Error\nBad Request!\n"


class FakeDahua(FakeRecorder):
    def __init__(self, state: RecorderState, tz: ZoneInfo = VN) -> None:
        super().__init__(state)
        self.state.realm = "Login to 6J0C8D4PAZ12345"
        self.tz = tz
        self._ids = itertools.count(8137)
        self.finders: dict[str, int | None] = {}  # object id → channel searched (None before findFile)

    async def storage(self, request: web.Request) -> web.Response:
        if request.query.get("action") != "getDeviceAllInfo":
            return _text(BAD, 400)
        lines = []
        for i, d in enumerate(self.state.disks):
            state = "Success" if d.status == "ok" else "Error"
            total, free = d.capacity_mb * 1024 * 1024, d.free_mb * 1024 * 1024
            p = f"list.info[{i}]"
            lines += [f"{p}.Detail[0].IsError={'false' if d.status == 'ok' else 'true'}",
                      f"{p}.Detail[0].Path=/dev/sd{chr(97 + i)}1", f"{p}.Detail[0].TotalBytes={total:.6f}",
                      f"{p}.Detail[0].Type=ReadWrite", f"{p}.Detail[0].UsedBytes={total - free:.6f}",
                      f"{p}.Name=/dev/sd{chr(97 + i)}", f"{p}.State={state}"]  # fmt: skip
        return _text("\n".join(lines) + "\n")

    async def config(self, request: web.Request) -> web.Response:
        if request.query.get("action") != "getConfig" or request.query.get("name") != "RecordMode":
            return _text(BAD, 400)
        lines = [f"table.RecordMode[{n - 1}].Mode={0 if ch.enabled else 2}"
                 for n, ch in sorted(self.state.channels.items())]  # fmt: skip
        return _text("\n".join(lines) + "\n")

    async def find(self, request: web.Request) -> web.Response:
        q = request.query
        action, obj = q.get("action"), q.get("object", "")
        if action == "factory.create":
            oid = str(next(self._ids))
            self.finders[oid] = None
            return _text(f"result={oid}\n")
        if obj not in self.finders:
            return _text(BAD, 400)
        if action == "findFile":
            self.finders[obj] = int(q.get("condition.Channel", "0"))
            return _text("OK\n")
        if action == "findNextFile":
            ch = self.state.channels.get(self.finders[obj] or 0)
            usable = any(d.status == "ok" for d in self.state.disks)
            if ch is None or ch.oldest_ts is None or not usable:
                return _text("found=0\n")
            start = datetime.fromtimestamp(ch.oldest_ts, self.tz)
            end = datetime.fromtimestamp(ch.oldest_ts + 3600, self.tz)
            return _text(f"found=1\nitems[0].Channel={self.finders[obj]}\n"
                         f"items[0].StartTime={start:%Y-%m-%d %H:%M:%S}\nitems[0].EndTime={end:%Y-%m-%d %H:%M:%S}\n"
                         "items[0].Type=dav\nitems[0].FilePath=/mnt/dvr/sda0/dav/00.00.00-01.00.00[R][0@0][0].dav\n"
                         "items[0].Length=1048576\n")  # fmt: skip
        if action in ("close", "destroy"):
            if action == "destroy":
                del self.finders[obj]
            return _text("OK\n")
        return _text(BAD, 400)

    async def unknown(self, request: web.Request) -> web.Response:
        return _text(BAD, 400)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.auth])
        app.router.add_get("/cgi-bin/storageDevice.cgi", self.storage)
        app.router.add_get("/cgi-bin/configManager.cgi", self.config)
        app.router.add_get("/cgi-bin/mediaFileFind.cgi", self.find)
        app.router.add_route("*", "/{tail:.*}", self.unknown)
        return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8092)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--days", type=float, default=30, help="footage kept on every channel")
    args = ap.parse_args()
    web.run_app(FakeDahua(RecorderState.with_channels(args.channels, args.days)).app(),
                host=args.host, port=args.port)  # fmt: skip


if __name__ == "__main__":
    main()
