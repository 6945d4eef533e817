"""Relays on their way out: the scheduler's dispatcher, with the hub's re-stream started for a relay order.

A relay order gets its chunk settings (broadcast.relay) and an unguessable token for its chunk URLs
(`/relay/{token}/{seq}.pcm`, served without login like `/media/{sha256}.mp3`); the dispatcher then sends the
receivers a `relay` command instead of a playlist and follows the airing like any other.
"""

from __future__ import annotations

import dataclasses
import secrets

from broadcast.airings.dispatcher import HubDispatcher
from broadcast.config import RelayConfig
from broadcast.orders import AiringOrder
from broadcast.relays.streamer import RelayStreamer


class RelayingDispatcher:
    def __init__(self, inner: HubDispatcher, streamer: RelayStreamer, cfg: RelayConfig) -> None:
        self.inner = inner
        self.streamer = streamer
        self.cfg = cfg

    async def dispatch(self, order: AiringOrder) -> None:
        if order.relay is not None:
            relay = dataclasses.replace(
                order.relay, chunk_s=self.cfg.chunk_s, rate_hz=self.cfg.rate_hz, token=secrets.token_hex(16)
            )
            order = dataclasses.replace(order, relay=relay)
            self.streamer.start(order)
        await self.inner.dispatch(order)

    async def cancel(self, airing_id: str, reason: str) -> None:
        await self.streamer.cancel(airing_id)
        await self.inner.cancel(airing_id, reason)
