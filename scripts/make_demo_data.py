"""Regenerates the demo territory files under src/pingan/territory/demo/ (deterministic).

Liucheng sub-district (柳城街道), Wenjiang district, Chengdu: 19 communities laid out on a plan
around the sub-district's real centre. Everything in it is fictitious; identity numbers use the
non-existent region code 990000 and phone numbers the unassigned prefix 100.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from pathlib import Path

from shapely.geometry import Point, mapping, shape
from shapely.ops import unary_union

from pingan.territory.idcard import check_char

OUT = Path(__file__).resolve().parents[1] / "src" / "pingan" / "territory" / "demo"
rng = random.Random(2026)

COMMUNITIES = [
    "光华",
    "永宁路",
    "新华",
    "黄金路",
    "南街",
    "迎晖路",
    "万盛",
    "和平",
    "航天路",
    "红光",
    "鱼凫路",
    "大学城",
    "东大街",
    "西街",
    "凤凰",
    "杨柳",
    "文庙",
    "柳林",
    "惠民",
]
WEST, NORTH = 103.800, 30.715  # north-west corner of the plan
CELL_LON, CELL_LAT = 0.014, 0.012
COLS = 5
AMP = 0.6  # how far boundaries wander from the plan's straight lines

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌鹏辉宇浩然欣怡梓涵子轩雨桐俊熙婷雪梅德兴海燕晓东春林"
PLACE = "锦云柳翠金桂玉兰清溪紫荆银杏和美嘉禾瑞丰康宁泰和祥瑞"


def ring(w: float, s: float, e: float, n: float) -> list[list[float]]:
    return [
        [round(w, 6), round(s, 6)],
        [round(e, 6), round(s, 6)],
        [round(e, 6), round(n, 6)],
        [round(w, 6), round(n, 6)],
        [round(w, 6), round(s, 6)],
    ]


STRIPS = 6  # horizontal subdivisions of a community's cell: its grids are 2 or 3 strips of them


def _jitter(key: str) -> random.Random:
    """A random stream of its own per lattice point or edge, so neighbours share their line."""
    return random.Random(f"liucheng:{key}")


Vertex = tuple[
    int, int
]  # a point of the plan's lattice: (k sixths of a community east, r rows south)


def vertex(k: int, r: int, amp: float = AMP) -> tuple[float, float]:
    g = _jitter(f"v{k},{r}")
    x = WEST + k * CELL_LON / STRIPS + g.uniform(-1, 1) * amp * 0.35 * CELL_LON / STRIPS
    y = NORTH - r * CELL_LAT + g.uniform(-1, 1) * amp * 0.1 * CELL_LAT
    return x, y


def edge(a: Vertex, b: Vertex, amp: float = AMP) -> list[tuple[float, float]]:
    """The line between two neighbouring lattice points, bending as a street does: the same
    line for the cells on either side of it and for the street drawn along it."""
    lo, hi = sorted((a, b))
    p, q = vertex(*lo, amp), vertex(*hi, amp)
    g = _jitter(f"e{lo}{hi}")
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = (dx * dx + dy * dy) ** 0.5
    nx, ny = -dy / length, dx / length
    points = [p]
    for t in (0.25, 0.5, 0.75):
        off = g.uniform(-1, 1) * amp * 0.07 * length
        points.append((p[0] + t * dx + off * nx, p[1] + t * dy + off * ny))
    points.append(q)
    return points if (a, b) == (lo, hi) else points[::-1]


def organic(col: int, row: int, first: int, last: int, amp: float) -> list[list[float]]:
    """The ring of a cell of the plan (columns `first`..`last` of its row, in sixths of a
    community) drawn as a town's boundaries are: corners off the square, edges that bend like
    the streets they follow. Cells that touch share the very same line, so none overlap and no
    gap opens between them."""
    k0, k1 = col * STRIPS + first, col * STRIPS + last
    path = [(k, row) for k in range(k0, k1 + 1)]
    path += [(k1, row + 1)] + [(k, row + 1) for k in range(k1 - 1, k0 - 1, -1)] + [(k0, row)]
    ring: list[list[float]] = []
    for a, b in itertools.pairwise(path):
        ring += [[round(x, 6), round(y, 6)] for x, y in edge(a, b, amp)[:-1]]
    return [*ring, ring[0]]


# Streets of the plan: east-west along each row's line, north-south along each column's, named
# after the town's roads; lanes between a community's grids.
EAST_WEST = ["柳城大道", "光华大道", "鱼凫路", "南街", "凤凰大街"]
NORTH_SOUTH = ["杨柳西路", "永宁路", "迎晖路", "航天路", "黄金路", "大学城路"]


def streets(cells: set[tuple[int, int]], lanes: list[tuple[int, int, str]]) -> list[dict]:
    """The streets the community and grid boundaries follow, as GeoJSON LineStrings: a road
    along every line of the plan that bounds a community, a lane along every line between two
    of its grids. `cells`: (col, row) of each community; `lanes`: (k, row, name)."""

    def line(points: list[Vertex]) -> list[list[float]]:
        out: list[tuple[float, float]] = []
        for a, b in itertools.pairwise(points):
            out += edge(a, b)[:-1]
        out.append(vertex(*points[-1]))
        return [[round(x, 6), round(y, 6)] for x, y in out]

    rows = max(r for _c, r in cells) + 1
    features = []
    # One feature a block, from crossing to crossing, as a map's ways are: named once each.
    for r in range(rows + 1):  # east-west: the block of column c if a community touches it
        for c in range(COLS):
            if (c, r - 1) in cells or (c, r) in cells:
                points = [(k, r) for k in range(c * STRIPS, (c + 1) * STRIPS + 1)]
                features.append(_road(EAST_WEST[r % len(EAST_WEST)], "road", line(points)))
    for c in range(COLS + 1):
        for r in range(rows):
            if (c - 1, r) in cells or (c, r) in cells:
                name = NORTH_SOUTH[c % len(NORTH_SOUTH)]
                features.append(_road(name, "road", line([(c * STRIPS, r), (c * STRIPS, r + 1)])))
    for k, r, name in lanes:
        features.append(_road(name, "lane", line([(k, r), (k, r + 1)])))
    return features


def _road(name: str, kind: str, coordinates: list[list[float]]) -> dict:
    return {
        "type": "Feature",
        "properties": {"name": name, "kind": kind},
        "geometry": {"type": "LineString", "coordinates": coordinates},
    }


def person_name() -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def id_number(birth: str, male: bool) -> str:
    seq = rng.randint(0, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"990000{birth.replace('-', '')}{seq:03d}"
    return first17 + check_char(first17)


def place_name(used: set[str], suffix: str) -> str:
    while True:
        name = rng.choice(PLACE[::2]) + rng.choice(PLACE[1::2]) + suffix
        if name not in used:
            used.add(name)
            return name


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = (len(COMMUNITIES) + COLS - 1) // COLS
    street = {
        "type": "Feature",
        "properties": {
            "kind": "street",
            "name": "柳城街道",
            "code": "510115001",
            "address": "四川省成都市温江区柳城街道",
        },
        "geometry": {
            "type": "Polygon",
            "coordinates": [ring(WEST, NORTH - rows * CELL_LAT, WEST + COLS * CELL_LON, NORTH)],
        },
    }
    features = [street]
    sites, buildings, households, residents = [], [], [], []
    used: set[str] = set()
    cells: set[tuple[int, int]] = set()
    lanes: list[tuple[int, int, str]] = []
    for index, short in enumerate(COMMUNITIES):
        col, row = index % COLS, index // COLS
        cells.add((col, row))
        w, n = WEST + col * CELL_LON, NORTH - row * CELL_LAT
        s = n - CELL_LAT
        community = f"{short}社区"
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kind": "community",
                    "name": community,
                    "parent": "柳城街道",
                    "code": f"510115001{index + 1:03d}",
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [organic(col, row, 0, STRIPS, AMP)],
                },
            }
        )
        grid_count = 3 if short in ("鱼凫路", "光华", "大学城") else 2
        lanes += [
            (col * STRIPS + g * STRIPS // grid_count, row, f"{short}{'一二'[g - 1]}巷")
            for g in range(1, grid_count)
        ]
        width = CELL_LON / grid_count
        grids = []
        for g in range(grid_count):
            gname = f"{short}第{g + 1}网格"
            gw = w + g * width
            grids.append((gname, gw, s, gw + width, n))
            features.append(
                {
                    "type": "Feature",
                    "properties": {"kind": "grid", "name": gname, "parent": community},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            organic(
                                col,
                                row,
                                g * STRIPS // grid_count,
                                (g + 1) * STRIPS // grid_count,
                                AMP,
                            )
                        ],
                    },
                }
            )
        plan = [
            (
                "商住小区",
                "柳欣苑"
                if short == "鱼凫路"
                else place_name(used, rng.choice(["苑", "花园", "家园"])),
                "物业",
                4,
                (18, 33),
            ),
            ("农民安置区", place_name(used, "安置小区"), "物业", 3, (6, 11)),
            ("老旧院落", f"{short}{rng.randint(2, 98)}号院", "自管会", 2, (5, 7)),
            ("三无院落", f"{place_name(used, '巷')}{rng.randint(1, 30)}号院", "无", 1, (3, 6)),
            ("单位", place_name(used, rng.choice(["小学", "卫生院", "中学"])), "", 1, (3, 5)),
            (
                "商圈楼宇",
                place_name(used, rng.choice(["广场", "大厦", "商业中心"])),
                "物业",
                1,
                (12, 28),
            ),
        ]
        for k, (site_type, name, management, bcount, (fmin, fmax)) in enumerate(plan):
            gname, gw, gs, ge, gn = grids[k % grid_count]
            lon = round(rng.uniform(gw + 0.1 * (ge - gw), ge - 0.1 * (ge - gw)), 6)
            lat = round(rng.uniform(gs + 0.1 * (gn - gs), gn - 0.1 * (gn - gs)), 6)
            mname = {
                "物业": f"{name[:2]}物业服务有限公司",
                "自管会": f"{name}自管会",
                "无": "",
            }.get(management, "")
            sites.append(
                [
                    community,
                    gname,
                    name,
                    site_type,
                    f"柳城街道{short}{rng.randint(1, 200)}号",
                    lon,
                    lat,
                    management,
                    mname,
                    f"100{rng.randint(10000000, 99999999)}" if mname else "",
                ]
            )
            for b in range(bcount):
                bname = {"单位": "办公楼", "商圈楼宇": "主楼"}.get(
                    site_type, f"{b + 1}栋" if site_type != "老旧院落" else f"{b + 1}幢"
                )
                floors = rng.randint(fmin, fmax)
                units = 2 if site_type in ("商住小区", "农民安置区") else 1
                blon, blat = (
                    round(lon + rng.uniform(-0.0008, 0.0008), 6),
                    round(lat + rng.uniform(-0.0006, 0.0006), 6),
                )
                buildings.append([community, name, bname, floors, units, blon, blat])
                if site_type in ("单位", "商圈楼宇"):
                    continue
                for h in range(8):
                    unit = h % units + 1
                    room = f"{unit}单元{rng.randint(1, floors)}{rng.randint(1, 4):02d}"
                    while any(
                        r[3] == room and r[2] == bname and r[1] == name for r in households[-8:]
                    ):
                        room = f"{unit}单元{rng.randint(1, floors)}{rng.randint(1, 4):02d}"
                    households.append([community, name, bname, room, ""])
                    size = rng.choice((1, 2, 2, 3, 3, 3, 4))
                    surname = rng.choice(SURNAMES)
                    for p in range(size):
                        male = rng.random() < 0.5
                        year = rng.randint(1940, 1995) if p < 2 else rng.randint(1998, 2022)
                        birth = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                        name_p = surname + "".join(
                            rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))
                        )
                        relation = ["户主", "配偶", "子女", "子女"][p]
                        residence = rng.choice(["户籍", "户籍", "常住", "流动", "租住"])
                        residents.append(
                            [
                                community,
                                name,
                                bname,
                                room,
                                name_p,
                                "男" if male else "女",
                                birth,
                                id_number(birth, male),
                                f"100{rng.randint(10000000, 99999999)}",
                                relation,
                                residence,
                                f"第{rng.randint(1, 4)}居民小组",
                            ]
                        )

    # The street is what its communities cover; every compound lies inside its own grid.
    areas = {f["properties"]["name"]: shape(f["geometry"]) for f in features[1:]}
    street["geometry"] = mapping(unary_union([a for n, a in areas.items() if n.endswith("社区")]))
    for site in sites:
        if not areas[site[1]].contains(Point(site[5], site[6])):
            raise SystemExit(f"{site[2]} lies outside {site[1]}: lower AMP")
    (OUT / "territory.geojson").write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1
        )
        + "\n",
        encoding="utf-8",
    )
    (OUT / "streets.geojson").write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": streets(cells, lanes)},
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    from pingan.imports.service import COLUMNS, ImportKind

    for kind, data in (
        (ImportKind.sites, sites),
        (ImportKind.buildings, buildings),
        (ImportKind.households, households),
        (ImportKind.residents, residents),
    ):
        with (OUT / f"{kind.value}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow([c.header for c in COLUMNS[kind]])
            writer.writerows(data)
    print(
        f"{len(COMMUNITIES)} communities, {len(sites)} sites, {len(buildings)} buildings, "
        f"{len(households)} households, {len(residents)} residents"
    )


if __name__ == "__main__":
    main()
