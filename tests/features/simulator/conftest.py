"""Simulations shared by the simulator tests (built once per session, a few seconds each)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.simulator import SimConfig, Simulation, simulate

START = pd.Timestamp("2022-01-01")
TRUTH_DAY = pd.Timestamp("2024-06-15")


@pytest.fixture(scope="session")
def small_sim() -> Simulation:
    """3,000 patients over two and a half years, default dynamics."""
    return simulate(3000, 7, "2023-01-01", "2025-06-30")


@pytest.fixture(scope="session")
def default_sim() -> Simulation:
    """6,000 patients over the default window (2021-01 .. 2026-10), for the marginal rates."""
    return simulate(6000, 11)


@pytest.fixture(scope="session")
def quiet_sim() -> Simulation:
    """Runs 107 days past ``TRUTH_DAY`` with no campaign launched within 60 days before it.

    Without outreach after the truth date the simulated future is exactly the world the
    return truth describes, so the two can be compared.
    """
    cfg = SimConfig(campaigns_until_day=(TRUTH_DAY - START).days - 60)
    return simulate(8000, 3, START, "2024-09-30", config=cfg)


@pytest.fixture(scope="session")
def one_contact_sim() -> Simulation:
    """One campaign whose single attempt goes out the morning after ``TRUTH_DAY``.

    No holdout, a wide lapse window, one attempt each: every contacted patient is a draw
    from the world the channel truth describes.
    """
    cfg = SimConfig(
        campaign_first_day=(TRUTH_DAY - START).days + 1, campaign_every_days=100_000,
        attempts=(1, 1), first_attempt_spread_days=1, campaign_holdout=0.0,
        campaign_lapsed_days=(20, 3000), campaign_cooldown_days=0,
    )
    return simulate(8000, 5, START, TRUTH_DAY + pd.Timedelta(days=20), config=cfg)


@pytest.fixture(scope="session")
def holdout_sim() -> Simulation:
    """Like ``one_contact_sim`` but half the members are held out (a randomised experiment)."""
    cfg = SimConfig(
        campaign_first_day=(TRUTH_DAY - START).days + 1, campaign_every_days=100_000,
        attempts=(1, 1), first_attempt_spread_days=1, campaign_holdout=0.5,
        campaign_lapsed_days=(20, 3000), campaign_cooldown_days=0,
    )
    return simulate(8000, 9, START, TRUTH_DAY + pd.Timedelta(days=20), config=cfg)
