"""The one settings object: defaults < file < environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.config import Settings


def test_file_then_environment_then_flags_win_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "reactivate.toml"
    cfg.write_text(
        "horizon_days = 60\nseed = 3\n[features]\nattribution_days = 10\nrate_prior_strength = 9.0\n"
    )
    monkeypatch.setenv("REACTIVATE_SEED", "11")
    monkeypatch.setenv("REACTIVATE_FEATURES__ATTRIBUTION_DAYS", "21")
    settings = Settings.from_file(cfg, horizon_days=None, models_dir=tmp_path / "store")
    assert settings.horizon_days == 60  # file (flag not given)
    assert settings.seed == 11  # environment beats file
    assert settings.features.attribution_days == 21  # nested environment beats file
    assert settings.features.rate_prior_strength == 9.0  # file keeps the rest of the section
    assert settings.models_dir == tmp_path / "store"  # flag
    assert Settings.from_file(cfg, seed=5).seed == 5  # flag beats environment


def test_json_file_is_accepted_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    cfg = tmp_path / "reactivate.json"
    cfg.write_text('{"policy": {"max_contacts": 3}}')
    settings = Settings.from_file(cfg)
    assert settings.policy.max_contacts == 3
    assert settings.policy.min_days_between_contacts == 14
    assert settings.horizon_days == 90


def test_entry_points_without_a_config_flag_read_the_file_named_by_reactivate_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "reactivate.toml"
    cfg.write_text("seed = 5\n[policy]\nmax_contacts_window_days = 90\n")
    monkeypatch.delenv("REACTIVATE_SEED", raising=False)
    monkeypatch.setenv("REACTIVATE_CONFIG", str(cfg))
    monkeypatch.setenv("REACTIVATE_HORIZON_DAYS", "30")
    s = Settings.from_environment(models_dir=tmp_path / "m", seed=None)
    assert (s.seed, s.horizon_days, s.policy.max_contacts_window_days) == (5, 30, 90)
    assert s.models_dir == tmp_path / "m"

    monkeypatch.setenv("REACTIVATE_CONFIG", "")
    assert Settings.from_environment().seed == 42
