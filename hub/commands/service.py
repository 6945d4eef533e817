"""Commands to edge agents (snapshot now, probe now, relearn the reference view) and the wait for their reply.

`EdgeCommander.send` publishes an `EdgeCommand`, signed by the hub (contract/orders.py), on the agent's `edge/{agent}/cmd` topic and waits, bounded, for
the `CommandReply` with the same transaction on `edge/{agent}/reply`. Replies arrive through the hub's one
ingest path (registered by hub/commands/feature.py), on the event loop. With several hubs the agent's partition
may belong to another hub: while it waits, the hub that asked also listens on that exact reply topic
(`FeatureContext.replies`), so the reply reaches it either way. A reply nobody here waits for (late, or asked by
another hub) is counted and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

from contract import CommandReply, EdgeCommand, Model, Topic, topics
from hub.core.features import ServiceKey
from hub.core.ingest import Handler

log = logging.getLogger("hub.commands")

Action = Literal["snapshot", "probe", "relearn"]
# What a person may ask from the web; `reload` is the operator's (it reads the agent's config file).
WEB_ACTIONS: tuple[Action, ...] = ("snapshot", "probe", "relearn")
# Probing one camera is bounded by the agent's hard cap per probe (~20 s by default) plus queueing behind
# scheduled probes; relearn only deletes a file.
REPLY_WAIT_S: dict[str, float] = {"snapshot": 45.0, "probe": 45.0, "relearn": 10.0}
MAX_PENDING = 200  # commands waiting for a reply at once, all agents together


@dataclass(frozen=True)
class CommandOutcome:
    transaction: str
    result: Literal["ok", "error", "timeout"]
    reply: CommandReply | None
    waited_s: float


class CommandBusy(Exception):
    """Too many commands wait for replies already."""


class EdgeCommander:
    """Hub component: sends edge commands and matches replies to waiting callers."""

    name = "edge-commands"

    def __init__(
        self,
        send_order: Callable[[Topic, Model], Awaitable[None]],
        replies: Callable[[Topic, Handler], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._send_order = send_order  # signs and publishes (hub/core/runtime.py)
        self._replies = replies or (lambda _t, _fn: contextlib.nullcontext())
        self._pending: dict[str, tuple[str, asyncio.Future[CommandReply]]] = {}  # tx → (agent key, future)
        self.sent = 0
        self.replies = 0
        self.unmatched = 0
        self.timeouts = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for _, fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def on_reply(self, t: Topic, value: Any, received: float) -> None:
        if not isinstance(value, CommandReply):
            return
        entry = self._pending.get(value.transaction)
        agent_key = f"{t.district}/{t.commune}/{t.id}"
        if entry is not None and entry[0] == agent_key and entry[1].done():
            return  # the same reply twice: through this hub's partition and its reply listener
        if entry is None or entry[0] != agent_key:
            # Late (the caller gave up), or an answer to another hub's command: nothing waits for it.
            self.unmatched += 1
            log.info("reply %s from %s matched no waiting command", value.transaction, agent_key)
            return
        self.replies += 1
        entry[1].set_result(value)

    async def send(
        self, agent_key: str, action: Action, camera: str | None, wait_s: float | None = None
    ) -> CommandOutcome:
        """Publishes the command and waits for its reply (at most `wait_s`, default per action)."""
        if len(self._pending) >= MAX_PENDING:
            raise CommandBusy(f"{len(self._pending)} lệnh đang chờ trả lời")
        district, commune, agent = agent_key.split("/")
        tx = f"hub-{secrets.token_hex(8)}"
        cmd = EdgeCommand(transaction=tx, action=action, camera=camera, ts=time.time())
        fut: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
        self._pending[tx] = (agent_key, fut)
        started = time.monotonic()
        try:
            async with self._replies(topics.edge_reply(district, commune, agent), self.on_reply):
                await self._send_order(topics.edge_cmd(district, commune, agent), cmd)
                self.sent += 1
                limit = REPLY_WAIT_S.get(action, 30.0) if wait_s is None else wait_s
                try:
                    reply = await asyncio.wait_for(asyncio.shield(fut), limit)
                except TimeoutError:
                    self.timeouts += 1
                    return CommandOutcome(tx, "timeout", None, time.monotonic() - started)
        finally:
            self._pending.pop(tx, None)
        return CommandOutcome(tx, reply.status, reply, time.monotonic() - started)


COMMANDS = ServiceKey("edge-commands", EdgeCommander)
