"""Bulk import: templates, CSV and XLSX, a row-by-row report, and nothing half-imported."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from pingan.imports.service import COLUMNS, ImportKind
from pingan.territory import geo
from tests.conftest import World


def _csv(kind: ImportKind, rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.header for c in COLUMNS[kind]])
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _xlsx(kind: ImportKind, rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([c.label for c in COLUMNS[kind]])  # Chinese headers alone are understood too
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _post(
    client: TestClient,
    world: World,
    kind: str,
    name: str,
    data: bytes,
    user: str = "gh_admin",
    **params: str,
):
    return client.post(
        f"/api/v1/imports/{kind}",
        params=params,
        files={"file": (name, data)},
        headers=world.auth(user),
    )


def _count(client: TestClient, world: World, path: str, **params: object) -> int:
    r = client.get(path, params={"limit": 1, **params}, headers=world.auth("street_admin"))
    return int(r.json()["total"])


def test_templates(client: TestClient) -> None:
    r = client.get("/api/v1/imports/templates/residents.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode()) and "身份证号 id_number" in r.content.decode(
        "utf-8-sig"
    )
    r = client.get("/api/v1/imports/templates/sites.xlsx")
    wb = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in wb.worksheets[0][1]][:4] == [
        "社区 community",
        "网格 grid",
        "名称 name",
        "类型 site_type",
    ]
    assert client.get("/api/v1/imports/templates/sites.pdf").status_code == 422
    assert client.get("/api/v1/imports/templates/cars.csv").status_code == 422


def test_full_chain_from_csv_and_xlsx(client: TestClient, world: World) -> None:
    glon, glat = geo.wgs84_to_gcj02(103.806, 30.684)
    sites = _csv(
        ImportKind.sites,
        [
            [
                "光华社区",
                "光华第1网格",
                "光华新苑",
                "商住小区",
                "光华路1号",
                glon,
                glat,
                "物业",
                "新苑物业",
                "028-1",
            ],
            ["光华", "光华第1网格", "光华二号院", "老旧院落", "", "", "", "自管会", "", ""],
        ],
    )
    r = _post(client, world, "sites", "sites.csv", sites, crs="gcj02")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "kind": "sites",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "dry_run": False,
        "errors": [],
    }
    site = client.get(
        "/api/v1/territory/nodes", params={"q": "光华新苑"}, headers=world.auth("gh_admin")
    ).json()["items"][0]
    assert abs(site["lon"] - 103.806) < 1e-6 and site["management"] == "property_company"

    buildings = _xlsx(ImportKind.buildings, [["光华社区", "光华新苑", "1栋", 18, 2, None, None]])
    assert _post(client, world, "buildings", "b.xlsx", buildings).json()["created"] == 1
    households = _csv(
        ImportKind.households,
        [["光华社区", "光华新苑", "1栋", f"1单元{n}01", ""] for n in range(1, 4)],
    )
    assert _post(client, world, "households", "h.csv", households).json()["created"] == 3
    residents = _csv(
        ImportKind.residents,
        [
            [
                "光华社区",
                "光华新苑",
                "1栋",
                "1单元101",
                "赵六",
                "男",
                "",
                "11010519491231002X",
                "13800000001",
                "户主",
                "户籍",
                "第1居民小组",
            ],
            [
                "光华社区",
                "光华新苑",
                "1栋",
                "1单元101",
                "钱七",
                "女",
                "1990-01-02",
                "",
                "",
                "Spouse",  # the English word of a kind, or its key, is understood too
                "permanent",
                "第1居民小组",
            ],
        ],
    )
    r = _post(client, world, "residents", "r.csv", residents)
    assert r.json()["created"] == 2, r.text
    people = [
        client.get("/api/v1/people", params={"q": name}, headers=world.auth("gh_admin")).json()
        for name in ("赵六", "钱七")
    ]
    kinds = {p["name"]: (p["relation"], p["residence"]) for page in people for p in page["items"]}
    assert kinds == {"赵六": ("head", "registered"), "钱七": ("spouse", "permanent")}, people
    odd = residents.replace(b"Spouse", "邻居".encode())
    r = _post(client, world, "residents", "r.csv", odd)
    [error] = r.json()["errors"]
    assert error["row"] == 3 and error["field"] == "relation" and "户主、配偶" in error["message"]
    # The report in the reader's language, the choices in its words.
    r = client.post(
        "/api/v1/imports/residents",
        files={"file": ("r.csv", odd)},
        headers={**world.auth("gh_admin"), "Accept-Language": "en"},
    )
    [error] = r.json()["errors"]
    assert "one of: Householder, Spouse, Child" in error["message"], error
    # Importing the same file again updates instead of duplicating.
    r = _post(client, world, "residents", "r.csv", residents)
    assert r.json()["created"] == 0 and r.json()["updated"] == 2
    groups = client.get("/api/v1/resident-groups", headers=world.auth("gh_admin")).json()
    assert [g["name"] for g in groups["items"]] == ["第1居民小组"]


def test_one_bad_row_imports_nothing_and_reports_each_row(client: TestClient, world: World) -> None:
    before = _count(client, world, "/api/v1/territory/nodes")
    audit_before = _count(client, world, "/api/v1/audit")
    rows = [
        ["光华社区", "光华第1网格", "好小区", "商住小区", "", "", "", "", "", ""],
        ["光华社区", "光华第1网格", "坏类型", "城堡", "", "", "", "", "", ""],
        ["光华社区", "不存在网格", "迷路小区", "单位", "", "", "", "", "", ""],
        ["", "光华第1网格", "无社区", "单位", "", "", "", "", "", ""],
        ["光华社区", "光华第1网格", "坏坐标", "单位", "", "103.8", "", "", "", ""],
        ["红光社区", "红光第1网格", "越界小区", "单位", "", "", "", "", "", ""],
    ]
    r = _post(client, world, "sites", "sites.csv", _csv(ImportKind.sites, rows))
    assert r.status_code == 422
    body = r.json()
    assert body["type"] == "/problems/import-failed" and "5 行有错误" in body["detail"]
    by_row = {e["row"]: e for e in body["errors"]}
    assert set(by_row) == {3, 4, 5, 6, 7}
    assert by_row[3]["field"] == "site_type" and "商住小区" in by_row[3]["message"]
    assert by_row[4]["field"] == "grid" and "不存在网格" in by_row[4]["message"]
    assert by_row[5]["field"] == "community" and "必填" in by_row[5]["message"]
    assert by_row[6]["field"] == "lon"
    assert by_row[7]["field"] == "community"  # 红光 is not visible to 光华's admin
    assert _count(client, world, "/api/v1/territory/nodes") == before
    assert _count(client, world, "/api/v1/territory/nodes", q="好小区") == 0
    assert _count(client, world, "/api/v1/audit") == audit_before


def test_dry_run_and_bad_files(client: TestClient, world: World) -> None:
    ok = _csv(
        ImportKind.sites, [["光华社区", "光华第1网格", "试导小区", "单位", "", "", "", "", "", ""]]
    )
    r = _post(client, world, "sites", "s.csv", ok, dry_run="true")
    assert r.json()["created"] == 1 and r.json()["dry_run"] is True
    assert _count(client, world, "/api/v1/territory/nodes", q="试导小区") == 0
    r = _post(client, world, "sites", "s.csv", "名称 name\n某处\n".encode())
    assert r.status_code == 422 and "缺少必填列" in r.json()["detail"]
    r = _post(client, world, "sites", "s.xlsx", b"PK\x03\x04 not really a zip")
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = _post(client, world, "sites", "s.csv", b"")
    assert r.status_code == 422 and "空" in r.json()["detail"]
    gbk = _csv(
        ImportKind.sites, [["光华社区", "光华第1网格", "国标小区", "单位", "", "", "", "", "", ""]]
    )
    r = _post(client, world, "sites", "s.csv", gbk.decode().encode("gb18030"))
    assert r.status_code == 200 and r.json()["created"] == 1
    assert _post(client, world, "sites", "s.csv", ok, user="gh_operator").status_code == 403
