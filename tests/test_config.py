from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pingan.config import Settings, UnknownSetting, get_settings, reset_settings


def test_defaults_put_sqlite_under_var(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path.as_posix()}/pingan.db" and s.is_sqlite


def test_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)


def test_unknown_environment_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINGAN_PROT", "8000")
    reset_settings()
    try:
        with pytest.raises(UnknownSetting, match="PINGAN_PROT"):
            get_settings()
    finally:
        monkeypatch.delenv("PINGAN_PROT")
        reset_settings()


def test_every_setting_is_documented() -> None:
    """docs/deployment.md names each PINGAN_* setting (in full, or as `_SUFFIX` of its group)."""
    import re

    text = (Path(__file__).parents[1] / "docs" / "deployment.md").read_text(encoding="utf-8")
    suffixes = {t for t in re.findall(r"_[A-Z0-9_]+", text) if len(t) > 3}
    from pingan.config import Settings

    missing = [
        f"PINGAN_{name.upper()}"
        for name in Settings.model_fields
        if f"PINGAN_{name.upper()}" not in text
        and not any(f"PINGAN_{name.upper()}".endswith(s) for s in suffixes)
    ]
    assert missing == []


def test_the_dc09_receiver_listens_on_this_machine_unless_told() -> None:
    from pingan.config import Settings

    assert Settings(_env_file=None).sia_host == "127.0.0.1"  # type: ignore[call-arg]
    assert Settings(_env_file=None, sia_host="0.0.0.0").sia_host == "0.0.0.0"  # type: ignore[call-arg]
