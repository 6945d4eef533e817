"""A local fake of Zalo's OA, OAuth and Bot HTTP APIs, for tests, the demo and the latency benchmark.

Same paths, headers and answer shapes as the real services (see /work/shared/research/zalo.md and
docs/NOTIFY.md): errors are HTTP 200 with `{"error": <code>, "message": …}`, the refresh token is single-use
(a reused one answers -14014), access tokens expire. Faults are scripted per endpoint:

    fake.fail("group", "token_expired")       # -216 once; the client should refresh and retry
    fake.fail("group", "rate_limit", times=2) # -32 twice
    fake.fail("group", "reauth")              # -118
    fake.fail("upload", "http_500")
    fake.fail("bot", "hang")                  # no answer until the client gives up
    fake.fail("group", "deliver_then_hang")   # delivered to the group, but the answer never comes

In-process: `fake = FakeZalo(); await fake.start(); ... await fake.stop()` (aiohttp on a free loopback port).
As a process: `python -m devtools.fakezalo --port 18090` prints each message it receives; GET /_fake/messages
and /_fake/requests list what it got, POST /_fake/fault {"endpoint": "group", "fault": "rate_limit"} scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import secrets
import signal
import sys
import time
from typing import Any

from aiohttp import web

from devtools.fakezalo_oauth import refresh_answer
from devtools.fakezalo_state import (
    AFTER_DELIVERY,
    CODE_FAULTS,
    ENDPOINTS,
    FAULTS,
    FILE_TYPES,
    HTTP_FAULTS,
    MAX_FILE_BYTES,
    MAX_IMAGE_BYTES,
    MAX_TEXT,
    FakeState,
    Message,
    Received,
)


class FakeZalo:
    def __init__(self, state: FakeState | None = None, echo: bool = False) -> None:
        self.state = state or FakeState()
        self.echo = echo
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._hangs: set[asyncio.Future[None]] = set()
        self.port = 0
        self.app = web.Application(client_max_size=8 * 1024 * 1024)
        self.app.router.add_post("/v3.0/oa/group/message", self._group_message)
        self.app.router.add_post("/v2.0/oa/upload/image", self._upload_image)
        self.app.router.add_post("/v2.0/oa/upload/file", self._upload_file)
        self.app.router.add_post("/v4/oa/access_token", self._oauth)
        self.app.router.add_post(r"/{bot:bot[^/]+}/{method}", self._bot)
        self.app.router.add_get("/_fake/messages", self._list_messages)
        self.app.router.add_get("/_fake/requests", self._list_requests)
        self.app.router.add_post("/_fake/fault", self._add_fault)

    # control ------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue_access_token(self, ttl_s: float | None = None) -> str:
        tok = "at-" + secrets.token_hex(8)
        self.state.access_tokens[tok] = time.time() + (self.state.access_ttl_s if ttl_s is None else ttl_s)
        return tok

    def expire_access_tokens(self) -> None:
        """Every access token issued so far now answers -216."""
        for tok in self.state.access_tokens:
            self.state.access_tokens[tok] = 0.0

    def fail(self, endpoint: str, fault: str, times: int = 1) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r} (known: {', '.join(ENDPOINTS)})")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
        self.state.faults[endpoint].extend([fault] * times)

    def messages(self, channel: str | None = None) -> list[Message]:
        return [m for m in self.state.messages if channel is None or m.channel == channel]

    def requests(self, endpoint: str | None = None) -> list[Received]:
        return [r for r in self.state.requests if endpoint is None or r.endpoint == endpoint]

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        for f in self._hangs:
            f.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # helpers --------------------------------------------------------------------------------------------------
    async def _fault(self, endpoint: str) -> web.Response | None:
        queue = self.state.faults.get(endpoint)
        if not queue or queue[0] in AFTER_DELIVERY:
            return None
        fault = queue.pop(0)
        if fault == "hang":
            return await self._hang()
        if fault in HTTP_FAULTS:
            return web.Response(
                status=HTTP_FAULTS[fault], text="Bad Gateway" if fault == "http_502" else "Error"
            )
        code, msg = CODE_FAULTS[fault]
        if endpoint == "bot":
            status = {-32: 429, -216: 401, -220: 401, -118: 401, -14014: 401}.get(code, 400)
            return self._bot_error(status, msg)
        return web.json_response({"error": code, "message": msg})

    async def _hang(self) -> web.Response:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hangs.add(fut)
        try:
            await asyncio.wait_for(fut, 3600)
        finally:
            self._hangs.discard(fut)
        return web.json_response({"error": -1, "message": "hang ended"})

    async def _after_delivery(self, endpoint: str) -> web.Response | None:
        """A fault scripted for after the message was delivered (the answer never comes)."""
        queue = self.state.faults.get(endpoint)
        if not queue or queue[0] not in AFTER_DELIVERY:
            return None
        queue.pop(0)
        return await self._hang()

    def _record(self, endpoint: str, request: web.Request, body: Any) -> Received:
        rec = Received(time.time(), endpoint, request.path, dict(request.headers), body)
        self.state.requests.append(rec)
        return rec

    def _token_error(self, request: web.Request) -> dict[str, Any] | None:
        tok = request.headers.get("access_token", "")
        exp = self.state.access_tokens.get(tok)
        if exp is None:
            return {"error": -216, "message": "Access token is invalid"}
        if exp <= time.time():
            return {"error": -216, "message": "Access token is invalid"}
        return None

    def _answer(self, rec: Received, body: dict[str, Any], status: int = 200) -> web.Response:
        rec.answer, rec.status = body, status
        return web.json_response(body, status=status)

    def _say(self, m: Message) -> None:
        if self.echo:
            extra = (
                f" [ảnh {m.attachment_id}]"
                if m.attachment_id
                else (f" [ảnh {m.photo}]" if m.photo else (f" [tệp {m.file_token}]" if m.file_token else ""))
            )
            print(f"--- Zalo {m.channel} → {m.target}{extra}\n{m.text}\n", flush=True)

    # OA ------------------------------------------------------------------------------------------------------
    async def _group_message(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        rec = self._record("group", request, body)
        if (resp := await self._fault("group")) is not None:
            return resp
        if (err := self._token_error(request)) is not None:
            return self._answer(rec, err)
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        gid = recipient.get("group_id") if isinstance(recipient, dict) else None
        if not isinstance(gid, str) or not isinstance(message, dict):
            return self._answer(rec, {"error": -201, "message": "Parameters are invalid"})
        if self.state.groups is not None and gid not in self.state.groups:
            return self._answer(rec, {"error": -237, "message": "Group not found or OA is not a member"})
        text = message.get("text", "")
        attachment_id = None
        att = message.get("attachment")
        if isinstance(att, dict) and att.get("type") == "file":
            return self._file_message(rec, gid, att)
        if att is not None:
            try:
                el = att["payload"]["elements"][0]
                attachment_id = el["attachment_id"]
                ok = att["type"] == "template" and att["payload"]["template_type"] == "media"
            except (KeyError, IndexError, TypeError):
                ok = False
            if not ok or attachment_id not in self.state.attachments:
                return self._answer(rec, {"error": -201, "message": "Attachment is invalid"})
        if not isinstance(text, str) or len(text) > MAX_TEXT or (not text and attachment_id is None):
            return self._answer(rec, {"error": -201, "message": "Text is empty or too long"})
        mid = f"msg-{next(self._ids)}"
        m = Message(time.time(), "oa", gid, text, attachment_id, message_id=mid)
        self.state.messages.append(m)
        self._say(m)
        if (resp := await self._after_delivery("group")) is not None:
            return resp
        return self._answer(rec, {"data": {"message_id": mid}, "error": 0, "message": "Success"})

    def _file_message(self, rec: Received, gid: str, att: dict[str, Any]) -> web.Response:
        payload = att.get("payload")
        token = payload.get("token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or token not in self.state.files:
            return self._answer(rec, {"error": -201, "message": "File token is invalid"})
        mid = f"msg-{next(self._ids)}"
        m = Message(time.time(), "oa", gid, "", None, message_id=mid, file_token=token)
        self.state.messages.append(m)
        self._say(m)
        return self._answer(rec, {"data": {"message_id": mid}, "error": 0, "message": "Success"})

    async def _upload_file(self, request: web.Request) -> web.Response:
        data, name, ctype = b"", "", ""
        try:
            post = await request.post()
            f = post.get("file")
            if isinstance(f, web.FileField):
                data, name, ctype = f.file.read(), f.filename, f.content_type
        except ValueError:
            pass
        rec = self._record(
            "upload_file", request, {"file_bytes": len(data), "content_type": ctype, "name": name}
        )
        if (resp := await self._fault("upload_file")) is not None:
            return resp
        if (err := self._token_error(request)) is not None:
            return self._answer(rec, err)
        if not data or ctype not in FILE_TYPES:
            return self._answer(rec, {"error": -201, "message": "File is missing or not PDF/DOC/DOCX"})
        if len(data) > MAX_FILE_BYTES:
            return self._answer(rec, {"error": -201, "message": "File is larger than 5MB"})
        token = "file-" + secrets.token_hex(8)
        self.state.files[token] = (name, data)
        return self._answer(rec, {"data": {"token": token}, "error": 0, "message": "Success"})

    async def _upload_image(self, request: web.Request) -> web.Response:
        size = 0
        ctype = ""
        try:
            post = await request.post()
            f = post.get("file")
            if isinstance(f, web.FileField):
                data = f.file.read()
                size, ctype = len(data), f.content_type
        except ValueError:
            pass
        rec = self._record("upload", request, {"file_bytes": size, "content_type": ctype})
        if (resp := await self._fault("upload")) is not None:
            return resp
        if (err := self._token_error(request)) is not None:
            return self._answer(rec, err)
        if size == 0 or ctype not in ("image/jpeg", "image/png"):
            return self._answer(rec, {"error": -201, "message": "File is missing or not jpg/png"})
        if size > MAX_IMAGE_BYTES:
            return self._answer(rec, {"error": -201, "message": "File is larger than 1MB"})
        aid = "att-" + secrets.token_hex(6)
        self.state.attachments[aid] = size
        return self._answer(rec, {"data": {"attachment_id": aid}, "error": 0, "message": "Success"})

    async def _oauth(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        rec = self._record("oauth", request, {k: str(v) for k, v in form.items()})
        if (resp := await self._fault("oauth")) is not None:
            return resp
        return self._answer(
            rec, refresh_answer(self.state, request.headers.get("secret_key"), form, self.issue_access_token)
        )

    # Bot -----------------------------------------------------------------------------------------------------
    def _bot_error(self, code: int, description: str) -> web.Response:
        return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)

    async def _bot(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            body = await request.json()
        except ValueError:
            body = dict(await request.post())
        rec = self._record("bot", request, body)
        if (resp := await self._fault("bot")) is not None:
            return resp
        if request.match_info["bot"][3:] != self.state.bot_token:
            rec.status = 401
            return self._bot_error(401, "Unauthorized")
        if method not in ("sendMessage", "sendPhoto"):
            return self._bot_error(404, "Not Found: method")
        chat = body.get("chat_id") if isinstance(body, dict) else None
        if not isinstance(chat, str | int) or not str(chat):
            return self._bot_error(400, "Bad Request: chat_id is empty")
        if method == "sendMessage":
            text = body.get("text")
            if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
                return self._bot_error(400, "Bad Request: text is empty or longer than 2000")
            m = Message(time.time(), "bot", str(chat), text)
        else:
            photo = body.get("photo")
            if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
                return self._bot_error(400, "Bad Request: photo must be a URL")
            m = Message(time.time(), "bot", str(chat), str(body.get("caption") or ""), photo=photo)
        m.message_id = str(next(self._ids))
        self.state.messages.append(m)
        self._say(m)
        return web.json_response({"ok": True, "result": {"message_id": m.message_id, "date": int(m.at)}})

    # inspection ---------------------------------------------------------------------------------------------
    async def _list_messages(self, request: web.Request) -> web.Response:
        return web.json_response([m.__dict__ for m in self.state.messages], dumps=_dumps)

    async def _list_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"at": r.at, "endpoint": r.endpoint, "path": r.path, "status": r.status, "answer": r.answer}
                for r in self.state.requests
            ],
            dumps=_dumps,
        )

    async def _add_fault(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            self.fail(str(body["endpoint"]), str(body["fault"]), int(body.get("times", 1)))
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True})


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


async def _serve(args: argparse.Namespace) -> None:
    st = FakeState(app_id=args.app_id, secret_key=args.secret_key, bot_token=args.bot_token)
    if args.refresh_token:
        st.refresh_token = args.refresh_token
    fake = FakeZalo(st, echo=not args.quiet)
    await fake.start(args.port, args.host)
    print(
        f"fakezalo: listening on {fake.url} (app_id={st.app_id}, refresh_token={st.refresh_token})",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Local fake of the Zalo OA, OAuth and Bot APIs (loopback only)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18090)
    p.add_argument("--app-id", default="fake-app")
    p.add_argument("--secret-key", default="fake-secret")
    p.add_argument("--refresh-token", default="", help="the refresh token it accepts first (random if empty)")
    p.add_argument("--bot-token", default="123:fake-bot-token")
    p.add_argument("--quiet", action="store_true", help="do not print received messages")
    args = p.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("fakezalo: only loopback addresses are allowed", file=sys.stderr)
        return 2
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
