"""Report files to Zalo OA groups (the notifier's `FILE_SINK`): upload the PDF (`/v2.0/oa/upload/file`, which
answers a file token), post a short text, then the file message to the group. A rejected access token is
refreshed once, as for alerts; what Zalo says is turned into "retry later" or "give up" for the caller, which
keeps its own record of each delivery (hub/scheduled_reports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hub.core.facts import FileSent
from hub.notify.channels import Channels
from hub.notify.models import CHANNEL_OA
from hub.notify.tokens import TokenUnavailable
from hub.notify.zalo import Outcome, Result, ZaloOa

MAX_FILE_BYTES = 5 * 1024 * 1024  # Zalo's limit for an uploaded document
GIVE_UP = (Outcome.PERMANENT, Outcome.REAUTH)


class ZaloFiles:
    def __init__(self, channels: Channels) -> None:
        self.channels = channels

    def live(self) -> bool:
        return self.channels.live(CHANNEL_OA)

    async def _with_token(self, call: Callable[[str], Awaitable[Result]]) -> Result:
        tokens = self.channels.tokens
        try:
            token = await tokens.token()
        except TokenUnavailable as exc:
            return exc.result
        res = await call(token)
        if res.outcome == Outcome.TOKEN:
            try:
                token = await tokens.after_rejected(token)
            except TokenUnavailable as exc:
                return exc.result
            res = await call(token)
            if res.outcome == Outcome.TOKEN:
                res = Result(Outcome.RETRY, res.code, f"token mới vẫn bị từ chối: {res.message}")
        return res

    async def send_file(self, group_id: str, filename: str, data: bytes, caption: str) -> FileSent:
        oa: ZaloOa | None = self.channels.oa
        if oa is None:
            return FileSent(False, False, "Zalo OA chưa được cấu hình")
        if len(data) > MAX_FILE_BYTES:
            return FileSent(False, False, f"tệp {len(data) // 1024} KB vượt giới hạn 5 MB của Zalo")
        up = await self._with_token(lambda t: oa.upload_file(t, data, filename))
        if not up.ok or up.message_id is None:
            return FileSent(False, up.outcome not in GIVE_UP, f"tải tệp lên Zalo: {up.describe()}")
        file_token = up.message_id
        text = await self._with_token(lambda t: oa.send_group(t, group_id, caption))
        if not text.ok:
            return FileSent(False, text.outcome not in GIVE_UP, f"gửi lời nhắn: {text.describe()}")
        sent = await self._with_token(lambda t: oa.send_group_file(t, group_id, file_token))
        if not sent.ok:
            return FileSent(False, sent.outcome not in GIVE_UP, f"gửi tệp: {sent.describe()}")
        return FileSent(True, False, "", sent.message_id)
