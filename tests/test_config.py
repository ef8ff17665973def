"""Settings: defaults, then $INKSEAL_HOME/config.toml, then environment variables, then explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from inkseal.config import load_settings


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for var in ("INKSEAL_DB_URL", "INKSEAL_LANG", "INKSEAL_SSCD_MODEL", "INKSEAL_HOME", "LANG"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings(home)
    assert s.database_url == f"sqlite:///{(home / 'registry.sqlite').resolve()}" and s.lang == "en"
    (home / "config.toml").write_text('lang = "zh"\nmax_false_matches = 1e-6\nsscd_model = "sscd"\n')
    s = load_settings(home)
    assert (s.lang, s.max_false_matches, s.sscd_model) == ("zh", 1e-6, "sscd")
    monkeypatch.setenv("INKSEAL_LANG", "en")
    monkeypatch.setenv("INKSEAL_DB_URL", "postgresql+psycopg://u@h/db")
    s = load_settings(home)
    assert s.lang == "en" and s.database_url == "postgresql+psycopg://u@h/db"
    assert load_settings(home, lang="zh").lang == "zh"
    monkeypatch.setenv("INKSEAL_HOME", str(home))
    assert load_settings().home == home


def test_unknown_setting_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ValueError, match="unknown setting.*colour"):
        load_settings(tmp_path)
