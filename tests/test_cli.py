"""The `pingan` command, run for real in a subprocess on a database of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pingan.auth.roles import Role
from pingan.db import migrate
from pingan.localbroker import free_port
from tests.conftest import BACKENDS, PG_URL, drop_pg_schema, new_pg_schema, require_pg


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    base.update(
        PINGAN_VAR_DIR=str(tmp_path), PINGAN_ARGON2_TIME_COST="1", PINGAN_ARGON2_MEMORY_KIB="1024"
    )
    schema = None
    if request.param == "postgresql":
        require_pg()
        schema = new_pg_schema()
        base.update(PINGAN_DATABASE_URL=PG_URL, PINGAN_DATABASE_SCHEMA=schema)
    yield base
    if schema:
        drop_pg_schema(schema)


def pingan(
    env: dict[str, str], *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pingan.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"pingan {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def test_commands_before_init_say_what_to_do(env: dict[str, str]) -> None:
    r = pingan(env, "user", "add", "x", "--role", "street_admin", "--scope", "1", check=False)
    assert r.returncode == 2 and "pingan init" in r.stderr


def test_unknown_setting_is_named(env: dict[str, str]) -> None:
    r = pingan({**env, "PINGAN_DATABSE_URL": "x"}, "init", check=False)
    assert r.returncode == 2 and "PINGAN_DATABSE_URL" in r.stderr


def test_init_user_import_backup_restore(env: dict[str, str], tmp_path: Path) -> None:
    out = pingan(env, "init").stdout
    head = migrate.head_revision()
    assert f"(empty) → {head}" in out
    assert f"{head} → {head}" in pingan(env, "init").stdout  # idempotent

    r = pingan(
        env, "user", "add", "admin", "--role", "street_admin", "--scope", "柳城街道", check=False
    )
    assert r.returncode == 2 and "找不到辖区节点" in r.stderr and "柳城街道/光华社区" in r.stderr
    r = pingan(env, "user", "add", "admin", "--role", "king", "--scope", "1", check=False)
    assert r.returncode == 2 and "street_admin" in r.stderr

    # A territory to work with: streets come from the CLI's system actor via the demo-free path.
    geo = tmp_path / "sites.csv"
    pingan(env, "template", "sites", "-o", str(geo))
    assert "社区 community" in geo.read_text(encoding="utf-8-sig")
    xlsx = tmp_path / "residents.xlsx"
    pingan(env, "template", "residents", "-o", str(xlsx))
    assert xlsx.read_bytes()[:2] == b"PK"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "社区 community,网格 grid,名称 name,类型 site_type\n无此社区,一网格,某院,单位\n",
        encoding="utf-8",
    )
    r = pingan(env, "import", "sites", str(bad), check=False)
    assert r.returncode == 2
    assert "第 2 行" in r.stderr and "无此社区" in r.stderr and "未导入任何数据" in r.stderr

    backup_file = tmp_path / "backup.db"
    out = pingan(env, "backup", str(backup_file)).stdout
    assert "backup written" in out and backup_file.exists()
    r = pingan(env, "restore", str(backup_file), check=False, stdin="n\n")
    assert r.returncode == 1
    assert "restored" in pingan(env, "restore", str(backup_file), "--yes").stdout


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, object] | str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read().decode()
            ctype = resp.headers.get("content-type", "")
            return resp.status, json.loads(body) if "json" in ctype else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode())


def test_demo_data_then_serve(tmp_path: Path) -> None:
    """What `make run` does: init, demo-data (passwords printed), serve; then log in as a demo user."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update(
        PINGAN_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        PINGAN_DEMO="true",
        PINGAN_ARGON2_TIME_COST="1",
        PINGAN_ARGON2_MEMORY_KIB="1024",
    )
    pingan(env, "init")
    out = pingan(env, "demo-data").stdout
    accounts = {
        line.split()[0]: (line.split()[1], line.split()[2])
        for line in out.splitlines()
        if line.startswith("  ") and "demo" not in line and "载入" not in line
    }
    roles = {role for _pw, role in accounts.values()}
    assert roles == {r.value for r in Role}  # an account of every role to try
    again = pingan(env, "demo-data").stdout
    assert "演示辖区已存在" in again
    new_passwords = {
        line.split()[0]: line.split()[1]
        for line in again.splitlines()
        if line.startswith("  ") and "载入" not in line
    }
    assert new_passwords["gh_admin"] != accounts["gh_admin"][0]

    proc, base = _serve(env)
    try:
        status, health = _get(f"{base}/healthz")
        assert status == 200 and isinstance(health, dict) and health["demo"] is True
        login = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps(
                {"username": "gh_admin", "password": new_passwords["gh_admin"]}
            ).encode(),
        )
        with urllib.request.urlopen(login, timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        status, communities = _get(f"{base}/api/v1/territory/nodes?kind=community", token)
        assert isinstance(communities, dict) and [c["name"] for c in communities["items"]] == [
            "光华社区"
        ]
        status, people = _get(f"{base}/api/v1/people?limit=1", token)
        assert isinstance(people, dict) and int(people["total"]) > 100
        status, page = _get(f"{base}/")
        assert status == 200 and "演示环境" in str(page)
        status, docs = _get(f"{base}/docs")
        assert status == 200 and "/static/vendor/swagger/swagger-ui-bundle.js" in str(docs)
        status, _js = _get(f"{base}/static/vendor/swagger/swagger-ui-bundle.js")
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pingan.cli", "serve", "--port", str(port)],
        env={"PINGAN_SIA_PORT": "0", **env},  # another platform on this machine may hold 7777
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            _get(f"{base}/healthz")
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise AssertionError(f"pingan serve did not answer: {proc.communicate(timeout=5)[0]}")


def _request(method: str, url: str, token: str, body: dict[str, object] | None = None) -> int:
    req = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_concurrent_writes_to_a_live_server(env: dict[str, str], tmp_path: Path) -> None:
    """Many clients writing and reading at once: every request succeeds, nothing is lost."""
    from concurrent.futures import ThreadPoolExecutor

    pingan(env, "init")
    # A street and a grid to write under, created by the system actor in-process.
    from sqlalchemy.orm import Session

    from pingan.auth.principal import SYSTEM
    from pingan.config import Settings
    from pingan.db.engine import make_engine
    from pingan.territory import service as territory_service
    from pingan.territory.schemas import NodeCreate

    settings = Settings(
        var_dir=Path(env["PINGAN_VAR_DIR"]),
        database_url=env.get("PINGAN_DATABASE_URL", ""),
        database_schema=env.get("PINGAN_DATABASE_SCHEMA", ""),
    )
    engine = make_engine(settings)
    with Session(engine) as s:
        street = territory_service.create(
            s, actor=SYSTEM, data=NodeCreate(kind="street", name="柳城街道")
        )
        community = territory_service.create(
            s, actor=SYSTEM, data=NodeCreate(kind="community", parent_id=street.id, name="光华社区")
        )
        grid = territory_service.create(
            s, actor=SYSTEM, data=NodeCreate(kind="grid", parent_id=community.id, name="一网格")
        )
        grid_id = grid.id
        s.commit()
    engine.dispose()
    pingan(
        env,
        "user",
        "add",
        "admin",
        "--role",
        "community_admin",
        "--scope",
        "柳城街道/光华社区",
        "--password",
        "0123456789ab",
    )

    proc, base = _serve(env)
    try:
        login = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"username": "admin", "password": "0123456789ab"}).encode(),
        )
        with urllib.request.urlopen(login, timeout=10) as resp:
            token = json.loads(resp.read())["token"]

        def work(worker: int) -> list[int]:
            statuses = []
            for n in range(8):
                statuses.append(
                    _request(
                        "POST",
                        f"{base}/api/v1/territory/nodes",
                        token,
                        {
                            "kind": "site",
                            "parent_id": grid_id,
                            "name": f"院{worker}-{n}",
                            "site_type": "old_courtyard",
                        },
                    )
                )
                statuses.append(
                    _request("GET", f"{base}/api/v1/territory/nodes?kind=site&limit=5", token)
                )
            return statuses

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = [s for statuses in pool.map(work, range(12)) for s in statuses]
        assert sorted(set(results)) == [200, 201], results
        _status, sites = _get(f"{base}/api/v1/territory/nodes?kind=site&limit=1", token)
        assert isinstance(sites, dict) and sites["total"] == 96
        _status, audit = _get(
            f"{base}/api/v1/audit?entity=territory_nodes&action=create&limit=1", token
        )
        # The sites, and the community and grid it lies in (its scope).
        assert isinstance(audit, dict) and audit["total"] == 96 + 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_https_with_a_certificate_from_pingan_cert(env: dict[str, str], tmp_path: Path) -> None:
    """Phones grant camera and position only to secure pages: `pingan cert` makes a certificate
    for the local network, signed by a local authority the phones install once."""
    import ssl

    import httpx

    pingan(env, "init")
    folder = tmp_path / "tls"
    out = pingan(env, "cert", "--host", "127.0.0.1", "--host", "pingan.local", "--out", str(folder))
    assert "PINGAN_TLS_CERT_FILE" in out.stdout and "ca.pem" in out.stdout
    assert oct((folder / "key.pem").stat().st_mode & 0o777) == "0o600"
    authority = (folder / "ca.pem").read_bytes()
    # A second certificate (renewed, or for a new address) is signed by the same authority.
    pingan(env, "cert", "--host", "127.0.0.1", "--out", str(folder))
    assert (folder / "ca.pem").read_bytes() == authority

    missing = pingan(
        {**env, "PINGAN_TLS_CERT_FILE": str(folder / "nope.pem")}, "serve", check=False
    )
    assert missing.returncode == 2 and "pingan cert" in missing.stderr

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pingan.cli", "serve", "--port", str(port)],
        env={
            "PINGAN_SIA_PORT": "0",
            **env,
            "PINGAN_TLS_CERT_FILE": str(folder / "cert.pem"),
            "PINGAN_TLS_KEY_FILE": str(folder / "key.pem"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with httpx.Client(
            verify=ssl.create_default_context(cafile=str(folder / "ca.pem")), trust_env=False
        ) as https:
            for _ in range(100):
                try:
                    r = https.get(f"https://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise AssertionError("pingan serve did not answer over HTTPS")
            assert r.status_code == 200
            login = https.post(
                f"https://127.0.0.1:{port}/login",
                data={"username": "nobody", "password": "wrong-password"},
            )
            assert login.status_code == 401
        # Without the authority installed the certificate is not trusted.
        with (
            httpx.Client(trust_env=False) as plain,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            plain.get(f"https://127.0.0.1:{port}/healthz")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
