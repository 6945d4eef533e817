"""HTTP clients of Zalo: OA group messages (GMF, API v3), image upload, OAuth v4 token refresh, Bot messages.

Zalo answers HTTP 200 with `{"error": <non-zero>, "message": …}` on failure; `classify` turns each code into
what the sender does with it (docs/NOTIFY.md has the table). Every call has a timeout; network errors, 5xx and
bodies that are not JSON are `RETRY`.

Some of those failures leave it unknown whether Zalo acted on the request (`Result.in_doubt`): no answer
within the timeout once connected, the connection dropped after the request went out, HTTP 504 (a gateway gave
up on the server behind it). Zalo's message APIs take no idempotency key, so the retry of such a send may
deliver the message twice: the sender counts it. Refused connections and connect timeouts are not in doubt.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp

from hub.notify.config import BotConfig, OaConfig


class Outcome(StrEnum):
    OK = "ok"
    TOKEN = "token"  # access token invalid/expired: refresh once, retry
    REAUTH = "reauth"  # the app/OA must be authorised again by a person: stop the channel
    RATE_LIMIT = "rate_limit"
    PERMANENT = "permanent"  # bad parameters, not in group, forbidden: do not retry
    RETRY = "retry"  # 5xx, timeouts, network, unknown


TOKEN_CODES = frozenset({-216, -220})
REAUTH_CODES = frozenset({-118, -14014})
RATE_LIMIT_CODES = frozenset({-32})
PERMANENT_CODES = frozenset({-201, -237, -403})


def classify(code: int) -> Outcome:
    if code == 0:
        return Outcome.OK
    if code in TOKEN_CODES:
        return Outcome.TOKEN
    if code in REAUTH_CODES:
        return Outcome.REAUTH
    if code in RATE_LIMIT_CODES:
        return Outcome.RATE_LIMIT
    if code in PERMANENT_CODES:
        return Outcome.PERMANENT
    return Outcome.RETRY  # an unknown code: retried, and dead after max_attempts (shown to operators)


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    code: int | None = None
    message: str = ""
    message_id: str | None = None  # send: the provider's message id; upload: the attachment id
    in_doubt: bool = False  # the request may have been acted on although no answer says so

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK

    def describe(self) -> str:
        code = f" ({self.code})" if self.code is not None else ""
        return f"{self.message or self.outcome}{code}"[:500]


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: float


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, timeout_s: float, **kw: Any
) -> Result | dict[str, Any]:
    """The JSON body of a 2xx answer, or the Result that says why there is none."""
    try:
        async with session.request(
            method,
            url,
            timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0)),
            **kw,
        ) as resp:
            raw = await resp.read()
            if resp.status >= 500:
                return Result(Outcome.RETRY, resp.status, f"HTTP {resp.status}", in_doubt=resp.status == 504)
            if resp.status == 429:
                return Result(Outcome.RATE_LIMIT, resp.status, "HTTP 429")
            try:
                body = json.loads(raw)
            except ValueError:
                return Result(Outcome.RETRY, resp.status, f"HTTP {resp.status}: câu trả lời không phải JSON")
            if not isinstance(body, dict):
                return Result(Outcome.RETRY, resp.status, "câu trả lời không phải đối tượng JSON")
            if resp.status >= 400 and "error" not in body and "ok" not in body:
                return Result(Outcome.PERMANENT, resp.status, f"HTTP {resp.status}")
            return body
    except aiohttp.ConnectionTimeoutError:  # never connected: nothing was sent
        return Result(Outcome.RETRY, None, f"không kết nối được trong {timeout_s:g} s")
    except TimeoutError:
        return Result(Outcome.RETRY, None, f"hết thời gian chờ {timeout_s:g} s", in_doubt=True)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        return Result(
            Outcome.RETRY, None, f"mất kết nối khi chờ trả lời: {exc.__class__.__name__}", in_doubt=True
        )
    except aiohttp.ClientError as exc:
        return Result(Outcome.RETRY, None, f"lỗi mạng: {exc.__class__.__name__}: {exc}"[:300])


def _error_code(body: dict[str, Any]) -> int:
    try:
        return int(body.get("error", 0) or 0)
    except (TypeError, ValueError):
        return -1


def _oa_result(body: Result | dict[str, Any], id_key: str) -> Result:
    if isinstance(body, Result):
        return body
    code = _error_code(body)
    if code != 0:
        msg = str(body.get("message") or body.get("error_description") or body.get("error_name") or "")
        return Result(classify(code), code, msg[:300])
    data = body.get("data")
    ident = data.get(id_key) if isinstance(data, dict) else None
    if ident is None:
        return Result(Outcome.RETRY, None, f"câu trả lời thiếu data.{id_key}")
    return Result(Outcome.OK, 0, "", str(ident))


class ZaloOa:
    def __init__(self, cfg: OaConfig, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.session = session

    async def send_group(
        self, token: str, group_id: str, text: str, attachment_id: str | None = None
    ) -> Result:
        message: dict[str, Any] = {"text": text}
        if attachment_id is not None:
            message["attachment"] = {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "attachment_id": attachment_id}],
                },
            }
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.base_url.rstrip('/')}/v3.0/oa/group/message",
            self.cfg.timeout_s,
            headers={"access_token": token},
            json={"recipient": {"group_id": group_id}, "message": message},
        )
        return _oa_result(body, "message_id")

    async def upload_image(self, token: str, jpeg: bytes) -> Result:
        form = aiohttp.FormData()
        form.add_field("file", jpeg, filename="snapshot.jpg", content_type="image/jpeg")
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.base_url.rstrip('/')}/v2.0/oa/upload/image",
            self.cfg.timeout_s,
            headers={"access_token": token},
            data=form,
        )
        return _oa_result(body, "attachment_id")

    async def upload_file(self, token: str, data: bytes, filename: str) -> Result:
        """A document (PDF, DOC, DOCX, at most 5 MB) for a later file message: `message_id` is Zalo's file token."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type="application/pdf")
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.base_url.rstrip('/')}/v2.0/oa/upload/file",
            self.cfg.timeout_s,
            headers={"access_token": token},
            data=form,
        )
        return _oa_result(body, "token")

    async def send_group_file(self, token: str, group_id: str, file_token: str) -> Result:
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.base_url.rstrip('/')}/v3.0/oa/group/message",
            self.cfg.timeout_s,
            headers={"access_token": token},
            json={
                "recipient": {"group_id": group_id},
                "message": {"attachment": {"type": "file", "payload": {"token": file_token}}},
            },
        )
        return _oa_result(body, "message_id")

    async def refresh(self, refresh_token: str) -> Tokens | Result:
        assert self.cfg.app_id is not None and self.cfg.secret_key is not None
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.oauth_url.rstrip('/')}/v4/oa/access_token",
            self.cfg.timeout_s,
            headers={"secret_key": self.cfg.secret_key},
            data={"refresh_token": refresh_token, "app_id": self.cfg.app_id, "grant_type": "refresh_token"},
        )
        if isinstance(body, Result):
            return body
        code = _error_code(body)
        if code != 0:
            msg = str(body.get("error_description") or body.get("error_name") or body.get("message") or "")
            # Any refusal of the refresh token itself means a person must authorise the app again.
            outcome = classify(code)
            if outcome in (Outcome.TOKEN, Outcome.PERMANENT, Outcome.RETRY) and code <= -14000:
                outcome = Outcome.REAUTH
            return Result(outcome, code, f"làm mới token bị từ chối: {msg}"[:300])
        try:
            return Tokens(str(body["access_token"]), str(body["refresh_token"]), float(body["expires_in"]))
        except (KeyError, TypeError, ValueError):
            return Result(
                Outcome.RETRY, None, "câu trả lời làm mới token thiếu access_token/refresh_token/expires_in"
            )


class ZaloBot:
    """Bot Platform (Telegram-like): `{"ok": true, "result": {...}}` or `{"ok": false, "error_code", "description"}`."""

    def __init__(self, cfg: BotConfig, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.session = session

    async def send_message(self, chat_id: str, text: str) -> Result:
        assert self.cfg.token is not None
        body = await _call(
            self.session,
            "POST",
            f"{self.cfg.base_url.rstrip('/')}/bot{self.cfg.token}/sendMessage",
            self.cfg.timeout_s,
            json={"chat_id": chat_id, "text": text},
        )
        if isinstance(body, Result):
            if body.code in (401, 403):
                return Result(
                    Outcome.REAUTH if body.code == 401 else Outcome.PERMANENT, body.code, body.message
                )
            return body
        if body.get("ok") is True:
            res = body.get("result")
            mid = res.get("message_id") if isinstance(res, dict) else None
            return Result(Outcome.OK, 0, "", None if mid is None else str(mid))
        try:
            code = int(body.get("error_code") or 0)
        except (TypeError, ValueError):
            code = 0
        msg = str(body.get("description") or "")[:300]
        if code == 401:
            return Result(Outcome.REAUTH, code, msg or "token của bot không hợp lệ")
        if code == 429:
            return Result(Outcome.RATE_LIMIT, code, msg)
        if code >= 500 or code == 0:
            return Result(Outcome.RETRY, code or None, msg or "lỗi không rõ")
        return Result(Outcome.PERMANENT, code, msg)


async def close_quietly(session: aiohttp.ClientSession) -> None:
    await session.close()
    await asyncio.sleep(0)  # lets aiohttp close its transports before the loop goes on
