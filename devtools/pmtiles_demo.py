"""A tiny raster PMTiles base map, made offline: a plain land colour with a graticule every 0.01° (about a
kilometre) over a bounding box, so the demo and the browser tests show a map served by the hub itself with HTTP
Range requests. It is no real map (no roads, no rivers): a province's own tiles go in its place (docs/MAP.md).

    python -m devtools.pmtiles_demo OUT.pmtiles [--bbox S,W,N,E] [--zooms 8-13]
"""

from __future__ import annotations

import argparse
import io
import math
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

# Yên Định (Thanh Hóa): the demo's communes lie inside.
YEN_DINH = (19.93, 105.52, 20.07, 105.72)
LAND = (238, 241, 234)
GRID = (205, 212, 200)
STEP = 0.01


def lon_to_x(lon: float, z: int) -> float:
    return (lon + 180.0) / 360.0 * float(2**z)


def lat_to_y(lat: float, z: int) -> float:
    r = math.radians(lat)
    return (1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * float(2**z)


def tiles_for(bbox: tuple[float, float, float, float], z: int) -> Iterator[tuple[int, int]]:
    s, w, n, e = bbox
    for x in range(int(lon_to_x(w, z)), int(lon_to_x(e, z)) + 1):
        for y in range(int(lat_to_y(n, z)), int(lat_to_y(s, z)) + 1):
            yield x, y


def tile_png(z: int, x: int, y: int) -> bytes:
    img = Image.new("RGB", (256, 256), LAND)
    draw = ImageDraw.Draw(img)
    lon0, lon1 = x / 2**z * 360 - 180, (x + 1) / 2**z * 360 - 180
    lat_of = lambda py: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / 2**z))))  # noqa: E731
    lat1, lat0 = lat_of(y), lat_of(y + 1)
    step = STEP if z >= 12 else STEP * 10
    k = math.ceil(lon0 / step)
    while k * step < lon1:
        px = (lon_to_x(k * step, z) - x) * 256
        draw.line([(px, 0), (px, 255)], fill=GRID)
        k += 1
    k = math.ceil(lat0 / step)
    while k * step < lat1:
        py = (lat_to_y(k * step, z) - y) * 256
        draw.line([(0, py), (255, py)], fill=GRID)
        k += 1
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def write_pmtiles(
    path: Path, bbox: tuple[float, float, float, float] = YEN_DINH, zooms: range = range(8, 14)
) -> int:
    """Writes the file; returns how many tiles it holds."""
    tiles = sorted((zxy_to_tileid(z, x, y), (z, x, y)) for z in zooms for x, y in tiles_for(bbox, z))
    s, w, n, e = bbox
    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, (z, x, y) in tiles:
            writer.write_tile(tile_id, tile_png(z, x, y))
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(w * 1e7),
                "min_lat_e7": int(s * 1e7),
                "max_lon_e7": int(e * 1e7),
                "max_lat_e7": int(n * 1e7),
                "center_zoom": zooms.start + 3,
                "center_lon_e7": int((w + e) / 2 * 1e7),
                "center_lat_e7": int((s + n) / 2 * 1e7),
            },
            {"name": "commune-ops demo graticule", "attribution": "commune-ops (no real map data)"},
        )
    return len(tiles)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--bbox", default=",".join(str(v) for v in YEN_DINH), help="south,west,north,east")
    ap.add_argument("--zooms", default="8-13", help="first-last zoom")
    args = ap.parse_args(argv)
    s, w, n, e = (float(v) for v in args.bbox.split(","))
    lo, hi = (int(v) for v in args.zooms.split("-"))
    count = write_pmtiles(args.out, (s, w, n, e), range(lo, hi + 1))
    print(f"{args.out}: {count} tiles, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
