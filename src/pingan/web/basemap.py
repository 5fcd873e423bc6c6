"""The base map under our own layers, when a deployment provides one: an offline tile set the
platform serves itself (an MBTiles or PMTiles file of raster tiles, e.g. cut for the
sub-district), an online tile server
of the network (`PINGAN_MAP_TILE_URL`), or the national Tianditu service with its key. Without
any, the maps draw only our GeoJSON layers, which needs no internet.

A base map in GCJ-02 (AMap's, Tencent's tiles) is shifted from WGS-84 by some hundred metres:
with `PINGAN_MAP_TILE_CRS=gcj02` the pages ask our layers in GCJ-02 and send clicked positions
back in it, and the services convert them (territory.geo)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

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


DEMO_STREETS = Path(__file__).parents[1] / "territory" / "demo" / "streets.geojson"
STREETS_MAX = 20 * 1024 * 1024  # bytes: a city's streets, simplified, fit in far less
STREETS = "/map/streets.geojson"
LINES = ("LineString", "MultiLineString")


def streets_source(settings: Settings, *, demo: bool) -> Path | None:
    """The streets drawn under our layers: none over tiles (they show their own), else the
    deployment's file, else the demo's on a demo."""
    if layers(settings):
        return None
    if settings.map_streets is not None:
        return settings.map_streets
    return DEMO_STREETS if demo else None


def load_streets(path: Path) -> dict[str, Any]:
    """A streets file, checked: a FeatureCollection of (Multi)LineStrings, only their name and
    kind kept. A file that is not is a clear error at start, naming the setting."""
    problem = f"{path} (PINGAN_MAP_STREETS)"
    if not path.is_file():
        raise FileNotFoundError(f"streets not found: {problem}")
    if path.stat().st_size > STREETS_MAX:
        raise ValueError(f"streets file over {STREETS_MAX // 2**20} MiB: {problem}")
    try:
        data = json.loads(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"streets file is not JSON ({exc}): {problem}") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValueError(f"streets file is not a GeoJSON FeatureCollection: {problem}")
    features = []
    for feature in data.get("features") or []:
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") not in LINES:
            raise ValueError(f"streets file holds a {geometry and geometry.get('type')}: {problem}")
        props = feature.get("properties") or {}
        kept = {k: str(props[k])[:100] for k in ("name", "kind") if props.get(k) is not None}
        features.append({"type": "Feature", "properties": kept, "geometry": geometry})
    return {"type": "FeatureCollection", "features": features}


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


class MBTiles:
    """An MBTiles file (SQLite: `tiles` in TMS rows, `metadata` with its format), read-only."""

    def __init__(self, path: Path) -> None:
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


PMTILES_MEDIA = {
    TileType.PNG: "image/png",
    TileType.JPEG: "image/jpeg",
    TileType.WEBP: "image/webp",
}


class PMTiles:
    """A PMTiles (v3) archive of raster tiles: one file, its directories read by byte ranges."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("rb")
        # The pmtiles package is untyped: its reader is used here only.
        self._reader = Reader(MmapSource(self._file))  # type: ignore[no-untyped-call]
        header = self._reader.header()  # type: ignore[no-untyped-call]
        media = PMTILES_MEDIA.get(header["tile_type"])
        if media is None:
            # Vector tiles need a style and a renderer in the browser; the pages draw images.
            raise ValueError(
                f"{path}: {header['tile_type'].name} tiles; the base map takes raster tiles "
                "(PNG, JPEG or WebP) in a .pmtiles or .mbtiles file (PINGAN_MAP_TILES)"
            )
        if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
            raise ValueError(f"{path}: compressed raster tiles are not served (PINGAN_MAP_TILES)")
        self.media = media
        self._lock = threading.Lock()

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        with self._lock:
            data = self._reader.get(z, x, y)  # type: ignore[no-untyped-call]
        return bytes(data) if data else None


@cache
def _demo_streets() -> dict[str, Any]:
    return load_streets(DEMO_STREETS)


def open_tiles(path: Path) -> MBTiles | PMTiles:
    """The offline tile set a deployment names, by its kind (.pmtiles, else MBTiles)."""
    if not path.is_file():
        raise FileNotFoundError(f"map tiles not found: {path} (PINGAN_MAP_TILES)")
    return PMTiles(path) if path.suffix.lower() == ".pmtiles" else MBTiles(path)


def install(app: FastAPI, settings: Settings, *, demo: Callable[[], bool]) -> None:
    """Serve the offline tile set and the streets, when there are (no personal data: open)."""
    streets = load_streets(settings.map_streets) if settings.map_streets is not None else None

    @app.get(STREETS, include_in_schema=False)
    def street_lines() -> Response:
        source = streets_source(settings, demo=demo())
        if source is None:
            return Response(status_code=404)
        body = streets if source == settings.map_streets else _demo_streets()
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})

    if settings.map_tiles is None:
        return
    tiles = open_tiles(settings.map_tiles)

    @app.get("/tiles/{z}/{x}/{y}", include_in_schema=False)
    def tile(z: int, x: int, y: int) -> Response:
        data = tiles.tile(z, x, y)
        if data is None:
            return Response(status_code=404)
        return Response(
            data, media_type=tiles.media, headers={"Cache-Control": "public, max-age=86400"}
        )
