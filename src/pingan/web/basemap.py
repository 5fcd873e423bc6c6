"""The base map under our own layers, when a deployment provides one: an offline tile set the
platform serves itself (an MBTiles file, e.g. cut for the sub-district), an online tile server
of the network (`PINGAN_MAP_TILE_URL`), or the national Tianditu service with its key. Without
any, the maps draw only our GeoJSON layers, which needs no internet.

A base map in GCJ-02 (AMap's, Tencent's tiles) is shifted from WGS-84 by some hundred metres:
with `PINGAN_MAP_TILE_CRS=gcj02` the pages ask our layers in GCJ-02 and send clicked positions
back in it, and the services convert them (territory.geo)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fastapi import FastAPI
from fastapi.responses import Response

from pingan.config import Settings

TILES = "/tiles/{z}/{x}/{y}"
TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


def layers(settings: Settings) -> list[dict[str, Any]]:
    """The tile layers a page's map draws under our own, bottom first (Leaflet options)."""
    if settings.map_tiles is not None:
        return [{"url": TILES, "maxZoom": 19, "attribution": settings.map_attribution or ""}]
    if settings.map_tianditu_key:
        # Tianditu's web-Mercator set in CGCS2000, which is WGS-84 to a few centimetres.
        return [
            {
                "url": TIANDITU.replace("{layer}", layer).replace(
                    "{key}", settings.map_tianditu_key
                ),
                "subdomains": "01234567",
                "maxZoom": 18,
                "attribution": "天地图",
            }
            for layer in ("vec", "cva")  # the map, then its labels
        ]
    if settings.map_tile_url:
        return [
            {
                "url": settings.map_tile_url,
                "maxZoom": 19,
                "attribution": settings.map_attribution or "",
            }
        ]
    return []


def image_sources(settings: Settings) -> list[str]:
    """Where the pages' images may come from besides the platform (the policy's img-src)."""
    if settings.map_tiles is not None:
        return []
    if settings.map_tianditu_key:
        return ["https://*.tianditu.gov.cn"]
    if settings.map_tile_url:
        tile = urlparse(settings.map_tile_url)
        return [f"{tile.scheme}://{tile.netloc.replace('{s}', '*')}"]
    return []


class TileFile:
    """An MBTiles file (SQLite: `tiles` in TMS rows, `metadata` with its format), read-only."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"map tiles not found: {path} (PINGAN_MAP_TILES)")
        self.path = path
        with self._connect() as db:
            row = db.execute("SELECT value FROM metadata WHERE name = 'format'").fetchone()
        self.media = MEDIA.get(str(row[0]).lower() if row else "png", "image/png")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?",
                (z, x, (2**z - 1) - y),  # MBTiles counts rows from the south (TMS)
            ).fetchone()
        return bytes(row[0]) if row else None


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the offline tile set, when there is one (the tiles are no personal data: open)."""
    if settings.map_tiles is None:
        return
    tiles = TileFile(settings.map_tiles)

    @app.get("/tiles/{z}/{x}/{y}", include_in_schema=False)
    def tile(z: int, x: int, y: int) -> Response:
        data = tiles.tile(z, x, y)
        if data is None:
            return Response(status_code=404)
        return Response(
            data, media_type=tiles.media, headers={"Cache-Control": "public, max-age=86400"}
        )
