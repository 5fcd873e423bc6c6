from __future__ import annotations

import json

import pytest

from pingan.errors import Invalid
from pingan.territory import geo


def test_gcj02_round_trip_is_centimetre_exact() -> None:
    lon, lat = 103.8361, 30.6905  # 柳城街道
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    # The GCJ-02 offset in Chengdu is a few hundred metres.
    assert 0.001 < abs(glon - lon) < 0.01 and 0.001 < abs(glat - lat) < 0.01
    back = geo.gcj02_to_wgs84(glon, glat)
    assert back == pytest.approx((lon, lat), abs=1e-7)


def test_bd09_to_wgs84() -> None:
    lon, lat = 103.8361, 30.6905
    blon, blat = geo.gcj02_to_bd09(*geo.wgs84_to_gcj02(lon, lat))
    assert geo.to_wgs84(blon, blat, geo.CRS.bd09) == pytest.approx((lon, lat), abs=1e-6)


def test_independent_reference_values() -> None:
    # Values published by another implementation's test suite (gcoord).
    assert geo.gcj02_to_wgs84(123, 45) == pytest.approx((122.99395597, 44.99804071), abs=1e-5)
    assert geo.gcj02_to_bd09(123, 45) == pytest.approx((123.00636499, 45.00636899), abs=1e-6)


def test_outside_china_is_untouched() -> None:
    assert geo.gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "不是合法的 JSON"),
        ({"type": "Point", "coordinates": [103.8, 30.7]}, "类型应为 Polygon 或 MultiPolygon"),
        ({"type": "Polygon"}, "缺少 coordinates"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[30.7, 103.8], [30.8, 103.8], [30.8, 103.9], [30.7, 103.8]]],
            },
            "超出经纬度范围",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "Self-intersection",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "坐标结构有误"),
    ],
)
def test_bad_boundaries_are_refused_with_reason(raw: object, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        geo.parse_boundary(raw)  # type: ignore[arg-type]
    assert info.value.field == "boundary"
    assert reason in str(info.value.params["reason"])


def test_feature_and_gcj02_boundary_are_normalised() -> None:
    ring = [[103.80, 30.68], [103.81, 30.68], [103.81, 30.69], [103.80, 30.69], [103.80, 30.68]]
    out = json.loads(
        geo.parse_boundary(
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}},
            geo.CRS.gcj02,
        )
    )
    assert out["type"] == "Polygon"
    first = out["coordinates"][0][0]
    assert first == pytest.approx(list(geo.gcj02_to_wgs84(103.80, 30.68)), abs=1e-6)


def test_area_index() -> None:
    index = geo.AreaIndex(
        [
            geo.Area(
                1,
                "community",
                geo.load_geometry(
                    json.dumps(
                        {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
                        }
                    )
                ),
            ),
            geo.Area(
                2,
                "grid",
                geo.load_geometry(
                    json.dumps(
                        {
                            "type": "Polygon",
                            "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
                        }
                    )
                ),
            ),
        ]
    )
    assert {a.node_id for a in index.containing(0.5, 0.5)} == {1, 2}
    assert {a.node_id for a in index.containing(1.5, 1.5)} == {1}
    assert index.containing(3, 3) == []
