"""On the simulator: the 95% interval for incremental bookings covers the true effect."""

from __future__ import annotations

import pytest

from features.config import Settings
from features.simulator import campaign_effect, campaign_members, play_campaign, simulate
from training.campaign_results import campaign_results


@pytest.fixture(scope="module")
def clinics():
    """Two small clinics (2,000 patients, two and a half years)."""
    return [simulate(2000, seed, "2023-01-01", "2025-06-30") for seed in (21, 22)]


def test_the_incremental_bookings_interval_covers_the_true_effect_in_most_campaigns(clinics):
    settings = Settings()
    covered, effects = 0, []
    for k in range(20):
        sim = clinics[k % 2]
        members = campaign_members(sim, f"camp-{k}", seed=100 + k, holdout_share=0.5)
        events = play_campaign(sim, members, seed=200 + k)
        truth = campaign_effect(sim, members, settings.features.attribution_days, seed=300 + k,
                                replications=100)
        lift = campaign_results(members, events, sim.tables.visits, settings,
                                f"camp-{k}")["versus_holdout"]
        low, high = lift["incremental_bookings_ci95"]
        covered += low <= truth["expected_extra_bookings"] <= high
        effects.append(truth["expected_extra_bookings"])
    assert covered >= 18, f"covered {covered} of 20"
    assert min(effects) > 0  # the campaigns do cause bookings, so coverage is not trivial
