"""The map's config section (`map:` in hub.yaml): which base map is drawn under the points.

- `none`: a plain background with the communes' names (works anywhere, nothing to install);
- `tiles`: the province's own tile server, an XYZ URL template such as `https://bando.thanhhoa.gov.vn/{z}/{x}/{y}.png`
  (the page's Content-Security-Policy lets images come from that origin only);
- `pmtiles`: one raster PMTiles file on the hub's disk, served by the hub itself with HTTP Range requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from hub.core.config import StrictModel

# Thanh Hóa's centre: where the map opens while no point or speaker has a position.
DEFAULT_CENTER = (19.81, 105.78)


class MapConfig(StrictModel):
    base: Literal["none", "tiles", "pmtiles"] = Field(
        default="none", description="none: plain background; tiles: a tile server; pmtiles: a file on the hub"
    )
    tiles_url: str | None = Field(
        default=None,
        max_length=500,
        description="base=tiles: http(s) URL template with {z}, {x} and {y} (and optionally {s})",
    )
    pmtiles_file: Path | None = Field(
        default=None, description="base=pmtiles: a raster PMTiles file (PNG/JPEG/WebP)"
    )
    attribution: str = Field(default="", max_length=300, description="Credit shown in the map's corner")
    center: tuple[float, float] = Field(
        default=DEFAULT_CENTER, description="lat, lon the map opens on when nothing has a position"
    )
    zoom: int = Field(default=11, ge=1, le=20, description="Zoom it opens at (with no points to fit)")
    min_zoom: int = Field(default=6, ge=0, le=20)
    max_zoom: int = Field(default=18, ge=1, le=22)
    cluster_until_zoom: int = Field(
        default=15, ge=1, le=22, description="Markers group into clusters at this zoom and below"
    )

    @model_validator(mode="after")
    def _base_source(self) -> MapConfig:
        if self.base == "tiles":
            if not self.tiles_url:
                raise ValueError("base: tiles needs tiles_url")
            parts = urlsplit(self.tiles_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("tiles_url: must be an http(s) URL")
            if not all(k in self.tiles_url for k in ("{z}", "{x}", "{y}")):
                raise ValueError("tiles_url: must hold {z}, {x} and {y}")
        if self.base == "pmtiles" and self.pmtiles_file is None:
            raise ValueError("base: pmtiles needs pmtiles_file")
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom: must not be above max_zoom")
        return self

    def tile_origin(self) -> str | None:
        """scheme://host[:port] of the tile server (what the page's CSP allows images from)."""
        if self.base != "tiles" or not self.tiles_url:
            return None
        parts = urlsplit(self.tiles_url.replace("{s}", "a"))
        host = (
            parts.netloc
            if "{s}" not in self.tiles_url.split("/")[2]
            else "*." + parts.netloc.split(".", 1)[1]
        )
        return f"{parts.scheme}://{host}"
