"""Recorders (NVR/DVR) as a hub feature: the `recorder/{id}/health` handler, the in-memory states it provides to
the alert engine and the camera page (`RECORDER_STATES`), its table, API route and page."""

from __future__ import annotations

from contract import Channel, Kind
from hub.core.features import Feature, FeatureContext
from hub.core.recorder_state import RECORDER_STATES, RecorderStates
from hub.recorders import web
from hub.recorders.service import RecorderService


def setup(ctx: FeatureContext) -> None:
    states = RecorderStates()
    service = RecorderService(ctx.db, ctx.influx, ctx.owns, states)
    ctx.add_handler(Kind.RECORDER, Channel.HEALTH, service.on_health)
    ctx.add_gauges(recorders=lambda: len(states.items), recorder_reports=lambda: service.accepted)
    ctx.services.provide(RECORDER_STATES, states)
    ctx.add_component(service)


FEATURE = Feature(
    name="recorders",
    setup=setup,
    tables=("hub.recorders.models",),
    provides=(RECORDER_STATES,),
    api_routes=web.ROUTES,
    add_pages=web.add_pages,
)
