"""The whole OpenAPI, fuzzed: schemathesis against a running platform with a street admin's
token (the role endpoints with a throwaway admin's), bounded examples — no answer ≥ 500."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db.engine import make_engine
from tests.conftest import settings_for
from tests.live import make_live

EXAMPLES = "12"


def _token(live_settings: object, username: str, street: int) -> str:
    engine = make_engine(live_settings)  # type: ignore[arg-type]
    with Session(engine) as s:
        s.info["actor"] = "test"
        user = auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username=username,
                display_name=username,
                password="fuzz-password-1",
                roles=[BindingIn(role=Role.street_admin, node_id=street)],
            ),
        )
        raw, _ = auth_service.issue_token(
            s, user=user, kind="api", name="fuzz", lifetime=timedelta(hours=1)
        )
        s.commit()
    engine.dispose()
    return raw


def _fuzz(base: str, token: str, *only: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base}/api/v1/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        EXAMPLES,
        "--workers",
        "1",  # one thread: schemathesis's generators are not safe to compile on several
        "--seed",
        "20261201",
        "--exclude-method",
        "DELETE",
        *only,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)


def test_no_operation_of_the_api_answers_a_server_error(tmp_path: Path) -> None:
    live = make_live(settings_for("sqlite", tmp_path))
    admin = _token(live.settings, "fuzz_admin", live.nodes["street"])
    throwaway = _token(live.settings, "fuzz_throwaway", live.nodes["street"])
    live.serve()
    try:
        base = f"http://127.0.0.1:{live.port}"
        # Everything but what would end the fuzzer's own session (log-out, its own account).
        main = _fuzz(
            base,
            admin,
            "--exclude-path",
            "/api/v1/auth/logout",
            "--exclude-path-regex",
            r"users/\{user_id\}",
        )
        failures = main.stdout[main.stdout.find("FAILURES") :] if "FAILURES" in main.stdout else ""
        assert main.returncode == 0, (failures or main.stdout)[:6000]
        assert " passed" in main.stdout and "generated" in main.stdout
        # The user and role endpoints, with an admin of their own to spend.
        roles = _fuzz(base, throwaway, "--include-path-regex", "/api/v1/users")
        assert roles.returncode == 0, roles.stdout[-6000:]
        assert "server error" not in (main.stdout + roles.stdout).lower()
    finally:
        live.stop()
