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


def test_streets_under_the_map_with_no_tiles(tmp_path: Path) -> None:
    """A deployment with no tiles may give its streets as GeoJSON lines (the demo has its own):
    checked at start, served with only their names and kinds, drawn under our layers."""
    lines = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "鱼凫路", "kind": "road", "owner": "not shown"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[103.80, 30.69], [103.82, 30.69]],
                },
            }
        ],
    }
    path = tmp_path / "streets.geojson"
    path.write_text(json.dumps(lines, ensure_ascii=False), encoding="utf-8")
    settings = settings_for("sqlite", tmp_path, map_streets=path)
    migrate.upgrade(make_engine(settings))
    with TestClient(create_app(settings)) as client:
        served = client.get("/map/streets.geojson").json()
        assert served["features"][0]["properties"] == {"name": "鱼凫路", "kind": "road"}
        assert '"streets": "/map/streets.geojson"' in client.get("/login").text
    # Not lines, or not JSON: said at start, naming the setting.
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                    }
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="PINGAN_MAP_STREETS"):
        create_app(settings)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        create_app(settings)


def test_the_demo_draws_its_streets_and_tiles_draw_their_own(tmp_path: Path) -> None:
    plain = settings_for("sqlite", tmp_path / "plain")
    assert basemap.streets_source(plain, demo=False) is None
    assert basemap.streets_source(plain, demo=True) == basemap.DEMO_STREETS
    tiled = settings_for("sqlite", tmp_path, map_tiles=_mbtiles(tmp_path / "map.mbtiles"))
    assert basemap.streets_source(tiled, demo=True) is None
    # The demo's streets are the lines its communities' and grids' boundaries follow.
    demo = basemap.load_streets(basemap.DEMO_STREETS)
    kinds = {f["properties"]["kind"] for f in demo["features"]}
    assert kinds == {"road", "lane"} and len(demo["features"]) > 40
    territory = json.loads((basemap.DEMO_STREETS.parent / "territory.geojson").read_text())
    yfl = next(f for f in territory["features"] if f["properties"]["name"] == "鱼凫路社区")
    corners = {tuple(p) for p in yfl["geometry"]["coordinates"][0]}
    on_streets = {tuple(p) for f in demo["features"] for p in f["geometry"]["coordinates"]}
    assert corners <= on_streets  # every point of its boundary lies on a street
