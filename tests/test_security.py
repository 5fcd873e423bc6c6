"""Web hardening: security headers on every answer, no inline script in any page, the log-in
forms refuse other sites, forwarded headers are believed from configured proxies only, and
/metrics and the detailed /healthz are for the token holder or this machine."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from pingan.localbroker import free_port
from tests.conftest import INTERNALS, World
from tests.test_cli import env, pingan

__all__ = ["env"]

TEMPLATES = Path(__file__).parents[1] / "src" / "pingan" / "web" / "templates"


def test_every_answer_carries_the_security_headers(client: TestClient, world: World) -> None:
    for path in ("/login", "/api/v1/auth/me", "/healthz", "/docs", "/m/", "/nope"):
        r = client.get(path, headers=world.auth("gh_admin"))
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert "frame-ancestors 'none'" in csp, path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert r.headers["x-content-type-options"] == "nosniff", path


def test_no_page_has_inline_script_or_handlers() -> None:
    """Only data blocks (type=application/json) may sit inline; scripts are files of /static."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_the_login_and_logout_forms_refuse_another_site(client: TestClient, world: World) -> None:
    form = {"username": "gh_admin", "password": "whatever"}
    r = client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "跨站" in r.text
    r = client.post("/login", data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    client.cookies.set("pingan_session", world.tokens["gh_admin"])
    r = client.post("/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200  # still logged in
    r = client.post("/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.clear()


def test_metrics_and_the_detailed_health_need_the_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer wrong-token-here"}).status_code
        == 401
    )
    assert client.get("/metrics", headers=INTERNALS).status_code == 200
    plain = client.get("/healthz").json()
    assert plain["status"] == "ok" and "workers" not in plain and "database" not in plain
    assert "workers" in client.get("/healthz", headers=INTERNALS).json()


def test_forwarded_headers_are_believed_from_configured_proxies_only(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A local client claiming another address in X-Forwarded-For must not dodge the log-in
    limit: without PINGAN_TRUSTED_PROXIES the header is ignored."""
    pingan(env, "init")
    pingan(
        env,
        "user",
        "add",
        "guard",
        "--role",
        "street_admin",
        "--scope",
        "1",
        "--name",
        "x",
        check=False,
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pingan.cli", "serve", "--port", str(port)],
        env={**env, "PINGAN_SIA_PORT": "0", "PINGAN_LOGIN_MAX_FAILURES": "3"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        statuses = [
            httpx.post(
                f"{base}/api/v1/auth/login",
                json={"username": "guard", "password": "wrong password!"},
                headers={"X-Forwarded-For": f"10.0.0.{n}"},
                timeout=10,
            ).status_code
            for n in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]  # one address, whatever it claims
    finally:
        proc.terminate()
        proc.wait(timeout=10)
