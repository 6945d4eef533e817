"""A signed `live` order on the receiver: stop the recorded programme that plays (the hub sent the order only
because the live session won the speakers under the priority rules), run snapclient against the hub's
Snapcast server until a `stop` naming the session or the order's `until`, and say so with the usual events
(`started`, then `finished` when the hub closes the session or at `until`, `stopped` when a person stops
whatever plays)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from broadcast.receiver.config import ReceiverConfig, resolve
from broadcast.receiver.live_player import LivePlayer, LiveTarget
from contract import FailReason, LiveData

log = logging.getLogger(__name__)

Emit = Callable[..., Awaitable[None]]


def live_host_allowed(host: str, allowed_urls: list[str]) -> bool:
    """Only the hub's own hosts: the ones audio may be downloaded from."""
    return any(urlsplit(u).hostname == host.strip("[]") for u in allowed_urls)


def player_for(config: ReceiverConfig, base_dir: Path, session: str) -> str:
    sink = config.sink
    if sink.type == "alsa":
        return "alsa"
    if sink.type == "file" and sink.path is not None:
        # raw PCM 48 kHz s16 stereo (Snapcast's format), beside where the WAVs of recorded airings go
        path = resolve(base_dir, sink.path.replace("{airing}", session)).with_suffix(".live.raw")
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"file:filename={path}"
    return "file:filename=null"


class ReceiverLive:
    def __init__(
        self,
        config: ReceiverConfig,
        base_dir: Path,
        emit: Emit,
        stop_programme: Callable[[str], Awaitable[bool]],
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.emit = emit
        self.stop_programme = stop_programme
        self.clock = clock
        self.session: str | None = None
        self.transaction: str | None = None
        self.started_at = 0.0
        self.player: LivePlayer | None = None
        self._deadline: asyncio.Task[None] | None = None
        self.counts: dict[str, int] = {"live_started": 0, "live_refused": 0, "live_behind": 0}

    @property
    def playing(self) -> str | None:
        return self.session

    async def start(self, transaction: str, order: LiveData) -> None:
        if self.session == order.airing:
            return  # the same order again (QoS 1 redelivery)
        if not live_host_allowed(order.host, self.config.hub.allowed_urls):
            self.counts["live_refused"] += 1
            await self.emit(
                "failed", order.airing, transaction, {"reason": FailReason.HOST_NOT_ALLOWED.value},
                error=f"Máy chủ phát trực tiếp {order.host} không nằm trong danh sách cho phép",
            )  # fmt: skip
            return
        await self.end("stopped", FailReason.REPLACED.value)
        await self.stop_programme(transaction)
        r = self.config.receiver
        self.player = LivePlayer(
            LiveTarget(order.host, order.port, r.id, player_for(self.config, self.base_dir, order.airing),
                       self.config.sink.device)
        )  # fmt: skip
        await self.player.start()
        self.session, self.transaction, self.started_at = order.airing, transaction, self.clock()
        self.counts["live_started"] += 1
        log.info("live %s from %s:%d until %.0f", order.airing, order.host, order.port, order.until)
        await self.emit("started", order.airing, transaction, {"first_sample_at": self.started_at})
        self._deadline = asyncio.create_task(self._until(order.until), name=f"live-{order.airing}")

    async def _until(self, until: float) -> None:
        await asyncio.sleep(max(0.0, until - self.clock()))
        await self.end("finished", None, from_deadline=True)

    async def stop(self, airing: str | None) -> bool:
        """A stop naming the session is the hub closing it: it aired to its end (`finished`); a stop of
        whatever plays is a person cutting it off (`stopped`)."""
        if self.session is None or (airing is not None and airing != self.session):
            return False
        if airing is None:
            await self.end("stopped", FailReason.COMMAND.value)
        else:
            await self.end("finished", None)
        return True

    async def end(self, event: str, reason: str | None, from_deadline: bool = False) -> None:
        if self.session is None:
            return
        session, transaction, player = self.session, self.transaction, self.player
        self.session = self.player = None
        if self._deadline is not None and not from_deadline:
            self._deadline.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deadline
        self._deadline = None
        behind = 0
        if player is not None:
            await player.stop()
            behind = player.behind_events
        self.counts["live_behind"] += behind
        data: dict[str, Any] = {"played_s": round(max(0.0, self.clock() - self.started_at), 3)}
        if reason is not None:
            data["reason"] = reason
        # falling behind is snapclient resyncing: it dropped audio rather than play out of step; the hub learns of it
        error = f"Loa bị trễ và phải đồng bộ lại {behind} lần" if behind else None
        await self.emit(event, session, transaction, data, error=error)
