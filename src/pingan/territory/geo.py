"""Geometry: GeoJSON boundaries, point lookup, and GCJ-02 / BD-09 → WGS-84 conversion.

Positions are WGS-84 longitude/latitude everywhere. Chinese web maps publish GCJ-02 (AMap,
Tencent) or BD-09 (Baidu); those are converted on import with the published forward formulas,
inverted iteratively (error well under 0.1 m in mainland China).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from pingan.errors import Invalid
from pingan.i18n import N_, phrase


class CRS(StrEnum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


_A = 6378245.0
_EE = 0.00669342162296594323


def _out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(10):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon, wlat = wlon - elon, wlat - elat
        if abs(elon) < 1e-9 and abs(elat) < 1e-9:
            break
    return wlon, wlat


_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def to_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    if crs is CRS.gcj02:
        return gcj02_to_wgs84(lon, lat)
    if crs is CRS.bd09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    return lon, lat


def from_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    """A WGS-84 point in another system (to draw on a base map that uses it)."""
    if crs is CRS.gcj02:
        return wgs84_to_gcj02(lon, lat)
    if crs is CRS.bd09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    return lon, lat


def geometry_in(geometry: dict[str, Any], crs: CRS) -> dict[str, Any]:
    """A WGS-84 GeoJSON geometry in another system (points, lines and polygons alike)."""
    if crs is CRS.wgs84:
        return geometry

    def convert(coords: Any) -> Any:
        if coords and isinstance(coords[0], int | float):
            lon, lat = from_wgs84(float(coords[0]), float(coords[1]), crs)
            return [round(lon, 7), round(lat, 7)]
        return [convert(c) for c in coords]

    return {**geometry, "coordinates": convert(geometry["coordinates"])}


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance between two WGS-84 points: good to a metre across a district."""
    lat = math.radians((lat1 + lat2) / 2)
    dx = math.radians(lon2 - lon1) * math.cos(lat)
    dy = math.radians(lat2 - lat1)
    return 6_371_000 * math.hypot(dx, dy)


def check_position(lon: float | None, lat: float | None, field: str = "lon") -> None:
    if (lon is None) != (lat is None):
        raise Invalid("bad_geometry", field=field, reason=N_("经度和纬度须同时给出"))
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid(
            "bad_geometry",
            field=field,
            reason=phrase(N_("坐标 ({lon}, {lat}) 超出经纬度范围"), lon=lon, lat=lat),
        )


def _convert_coords(coords: Any, crs: CRS) -> Any:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        lon, lat = to_wgs84(float(coords[0]), float(coords[1]), crs)
        return [round(lon, 7), round(lat, 7)]
    return [_convert_coords(c, crs) for c in coords]


def parse_boundary(raw: str | dict[str, Any], crs: CRS = CRS.wgs84, field: str = "boundary") -> str:
    """Validate a GeoJSON Polygon or MultiPolygon (or a Feature of one); return it as WGS-84 text."""
    try:
        obj = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise Invalid(
            "bad_geometry",
            field=field,
            reason=phrase(N_("不是合法的 JSON：{error}"), error=exc.msg),
        ) from exc
    if not isinstance(obj, dict):
        raise Invalid("bad_geometry", field=field, reason=N_("应为 GeoJSON 对象"))
    if obj.get("type") == "Feature":
        obj = obj.get("geometry") or {}
    kind = obj.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise Invalid(
            "bad_geometry",
            field=field,
            reason=phrase(N_("类型应为 Polygon 或 MultiPolygon，而非 {kind}"), kind=kind),
        )
    coords = obj.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise Invalid("bad_geometry", field=field, reason=N_("缺少 coordinates"))
    try:
        converted = {"type": kind, "coordinates": _convert_coords(coords, crs)}
        geom = shape(converted)
    except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as exc:
        raise Invalid(
            "bad_geometry", field=field, reason=phrase(N_("坐标结构有误：{error}"), error=exc)
        ) from exc
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise Invalid(
            "bad_geometry", field=field, reason=N_("坐标超出经纬度范围（应为 经度, 纬度）")
        )
    if not geom.is_valid:
        raise Invalid("bad_geometry", field=field, reason=explain_validity(geom))
    if geom.is_empty or geom.area == 0:
        raise Invalid("bad_geometry", field=field, reason=N_("面积为零"))
    return json.dumps(converted, separators=(",", ":"))


def parse_line(raw: dict[str, Any], crs: CRS = CRS.wgs84, field: str = "geometry") -> str:
    """Validate a GeoJSON LineString (or a Feature of one): a street drawn on the map; return it
    as WGS-84 text."""
    obj = raw.get("geometry") or {} if raw.get("type") == "Feature" else raw
    if obj.get("type") != "LineString":
        raise Invalid(
            "bad_geometry",
            field=field,
            reason=phrase(N_("类型应为 LineString，而非 {kind}"), kind=obj.get("type")),
        )
    coords = obj.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise Invalid("bad_geometry", field=field, reason=N_("线至少要有两个点"))
    try:
        converted = {"type": "LineString", "coordinates": _convert_coords(coords, crs)}
        line = shape(converted)
    except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as exc:
        raise Invalid(
            "bad_geometry", field=field, reason=phrase(N_("坐标结构有误：{error}"), error=exc)
        ) from exc
    minx, miny, maxx, maxy = line.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise Invalid(
            "bad_geometry", field=field, reason=N_("坐标超出经纬度范围（应为 经度, 纬度）")
        )
    if line.length == 0:
        raise Invalid("bad_geometry", field=field, reason=N_("长度为零"))
    return json.dumps(converted, separators=(",", ":"))


def load_geometry(text: str) -> BaseGeometry:
    return shape(json.loads(text))


@dataclass(frozen=True)
class Area:
    node_id: int
    kind: str
    geometry: BaseGeometry


class AreaIndex:
    """An STRtree over boundaries: which areas contain a point."""

    def __init__(self, areas: Iterable[Area]) -> None:
        self.areas = list(areas)
        self.tree = shapely.STRtree([a.geometry for a in self.areas])

    def containing(self, lon: float, lat: float) -> list[Area]:
        hits = self.tree.query(Point(lon, lat), predicate="intersects")
        return [self.areas[int(i)] for i in hits]
