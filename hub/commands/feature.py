"""Edge commands as a hub feature: the commander, its reply handler, its gauge and its API route."""

from __future__ import annotations

from contract import Channel, Kind
from hub.commands import web
from hub.commands.service import COMMANDS, EdgeCommander
from hub.core.features import Feature, FeatureContext


def setup(ctx: FeatureContext) -> None:
    assert ctx.send_order is not None
    commander = EdgeCommander(ctx.send_order, ctx.replies)
    ctx.add_handler(Kind.EDGE, Channel.REPLY, commander.on_reply)
    ctx.add_gauges(commands_pending=lambda: commander.pending)
    ctx.services.provide(COMMANDS, commander)
    ctx.add_component(commander)


FEATURE = Feature(name="commands", setup=setup, provides=(COMMANDS,), api_routes=web.ROUTES)
