"""The map as a hub feature: its config section (the base map), its page, its PMTiles file and its API route.
Nothing runs in the background: the page's colours come from the hub's live event stream."""

from __future__ import annotations

from hub.core.features import Feature, FeatureContext
from hub.map.config import MapConfig
from hub.map.web import api, pages


def setup(ctx: FeatureContext) -> None:
    ctx.settings(MapConfig)  # validated with the rest of the config at start


FEATURE = Feature(
    name="map",
    setup=setup,
    config_key="map",
    config_model=MapConfig,
    config_description="The map page's base map (docs/MAP.md)",
    api_routes=api.ROUTES,
    add_pages=pages.add_pages,
)
