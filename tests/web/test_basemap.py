"""A base map under our layers: an MBTiles file the platform serves itself, the national
Tianditu service with a key, or a tile server in GCJ-02 — our layers, the alarm's point and the
positions clicked on the map then follow its coordinates."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

from pingan.app import create_app
from pingan.db import migrate
from pingan.db.engine import make_engine
from pingan.security import content_security_policy
from pingan.territory.geo import gcj02_to_wgs84, wgs84_to_gcj02
from pingan.web import basemap
from tests.conftest import World, settings_for
from tests.patrol.test_patrol import patrol
from tests.web.test_console import page

__all__ = ["patrol"]  # fixtures

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _mbtiles(path: Path) -> Path:
    """One tile at z=15 over 柳城 (x 25830, y 13570 in XYZ), as MBTiles files keep it (TMS)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INT, tile_column INT, tile_row INT, tile_data BLOB)"
        )
        db.execute("INSERT INTO metadata VALUES ('format', 'png'), ('name', '柳城街道')")
        db.execute("INSERT INTO tiles VALUES (15, 25830, ?, ?)", ((2**15 - 1) - 13570, PNG))
    return path


def test_an_offline_tile_set_is_served_by_the_platform(tmp_path: Path) -> None:
    settings = settings_for("sqlite", tmp_path, map_tiles=_mbtiles(tmp_path / "map.mbtiles"))
    migrate.upgrade(make_engine(settings))
    with TestClient(create_app(settings)) as client:
        r = client.get("/tiles/15/25830/13570")
        assert r.status_code == 200 and r.content == PNG
        assert r.headers["content-type"] == "image/png"
        assert client.get("/tiles/15/25830/13571").status_code == 404
        assert client.get("/tiles/3/99/0").status_code == 404  # not a tile of that zoom
    layers = basemap.layers(settings)
    assert [layer["url"] for layer in layers] == ["/tiles/{z}/{x}/{y}"]
    assert "tianditu" not in content_security_policy(settings)


def _pmtiles(path: Path, tile_type: TileType = TileType.PNG) -> Path:
    """The same tile in a PMTiles archive (one file, tiles addressed by their Hilbert id)."""
    with write(str(path)) as writer:
        writer.write_tile(zxy_to_tileid(15, 25830, 13570), PNG)
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.NONE,
                "min_lon_e7": 1037000000,
                "min_lat_e7": 306000000,
                "max_lon_e7": 1039000000,
                "max_lat_e7": 308000000,
                "center_zoom": 15,
                "center_lon_e7": 1038000000,
                "center_lat_e7": 307000000,
            },
            {"name": "柳城街道"},
        )
    return path


def test_a_pmtiles_archive_is_served_as_well(tmp_path: Path) -> None:
    settings = settings_for("sqlite", tmp_path, map_tiles=_pmtiles(tmp_path / "map.pmtiles"))
    migrate.upgrade(make_engine(settings))
    with TestClient(create_app(settings)) as client:
        r = client.get("/tiles/15/25830/13570")
        assert r.status_code == 200 and r.content == PNG
        assert r.headers["content-type"] == "image/png"
        assert client.get("/tiles/15/25830/13571").status_code == 404
        assert client.get("/tiles/3/99/0").status_code == 404
    # Vector tiles need a renderer the pages do not have: said at start, not drawn blank.
    vector = _pmtiles(tmp_path / "vector.pmtiles", TileType.MVT)
    with pytest.raises(ValueError, match="raster tiles"):
        basemap.open_tiles(vector)


def test_tianditu_with_a_key_draws_its_map_and_labels(tmp_path: Path) -> None:
    settings = settings_for("sqlite", tmp_path, map_tianditu_key="0123456789abcdef")
    layers = basemap.layers(settings)
    assert [("vec_w" in x["url"], "cva_w" in x["url"]) for x in layers] == [
        (True, False),
        (False, True),
    ]
    assert all("tk=0123456789abcdef" in x["url"] and "{z}" in x["url"] for x in layers)
    assert "https://*.tianditu.gov.cn" in content_security_policy(settings)


def test_a_gcj02_base_map_gets_our_layers_and_gives_its_clicks_in_gcj02(
    client: TestClient, world: World, patrol: dict[str, object]
) -> None:
    h = world.auth("gh_admin")
    plain = client.get("/api/v1/map/sites", headers=h).json()["features"][0]
    shifted = client.get("/api/v1/map/sites", params={"crs": "gcj02"}, headers=h).json()
    lon, lat = plain["geometry"]["coordinates"]
    assert shifted["features"][0]["geometry"]["coordinates"] == list(wgs84_to_gcj02(lon, lat))
    ring = client.get("/api/v1/map/boundaries", params={"crs": "gcj02"}, headers=h).json()
    first = ring["features"][0]["geometry"]["coordinates"][0][0]
    assert abs(first[0] - 103.80) > 0.001  # moved some hundred metres, as GCJ-02 is
    # A route clicked on such a map is stored in WGS-84: the same place.
    on_map = wgs84_to_gcj02(103.805, 30.685)
    r = client.post(
        "/api/v1/patrol/routes",
        json={
            "team_id": patrol["team"]["id"],  # type: ignore[index]
            "name": "高德底图上画的路线",
            "duration_min": 30,
            "crs": "gcj02",
            "checkpoints": [{"name": "东门", "lon": on_map[0], "lat": on_map[1], "due_min": 10}],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    stored = r.json()["checkpoints"][0]
    assert abs(stored["lon"] - 103.805) < 1e-5 and abs(stored["lat"] - 30.685) < 1e-5
    # The page tells its scripts which base map and system to use.
    settings = client.app.state.settings  # type: ignore[attr-defined]
    saved = settings.map_tile_crs, settings.map_tile_url
    try:
        settings.map_tile_crs = "gcj02"
        settings.map_tile_url = "https://wprd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}"
        html = page(client, world, "gh_admin", "/map").text
        data = json.loads(html.split('id="basemap" type="application/json">')[1].split("<")[0])
        assert data["crs"] == "gcj02" and data["layers"][0]["url"].startswith("https://wprd0")
    finally:
        settings.map_tile_crs, settings.map_tile_url = saved
    assert gcj02_to_wgs84(*on_map)[0] - 103.805 < 1e-5
