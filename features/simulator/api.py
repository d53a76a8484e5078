"""The public entry points: run the clinic, ask the oracle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from features.export.tables import Tables
from features.simulator.campaign_draw import draw_members
from features.simulator.campaign_play import PlayConfig, true_effect
from features.simulator.campaign_play import play_campaign as _play_campaign
from features.simulator.engine import RawRun, run
from features.simulator.export import build_tables, patient_ids
from features.simulator.params import SimConfig
from features.simulator.truth import chunks, p_book_channels, p_return, state_at
from features.vocabulary import CHANNELS


@dataclass(frozen=True)
class Simulation:
    """One simulated clinic.

    Attributes:
        tables: the export, conformed to the contract dtypes.
        raw: the latent run (engagement, cadence, uplift, holdouts) the oracle reads.
        clinic_id: tenant id written on every patient.
        seed, start, end: how it was generated.
    """

    tables: Tables
    raw: RawRun
    clinic_id: str
    seed: int
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def config(self) -> SimConfig:
        """The parameters the run used."""
        return self.raw.cfg


def simulate(
    n_patients: int,
    seed: int,
    start: str | date = "2021-01-01",
    end: str | date = "2026-10-31",
    clinic_id: str = "demo",
    *,
    config: SimConfig | None = None,
) -> Simulation:
    """Simulate ``n_patients`` patients of one clinic from ``start`` through ``end``.

    Same arguments give identical tables. ``config`` overrides the documented demo
    parameters (tests use it, e.g. to stop campaigns before a truth date).
    """
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    t0, t1 = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if t1 <= t0:
        raise ValueError("end must be after start")
    raw = run(int(n_patients), int(seed), t0, t1, config or SimConfig())
    return Simulation(build_tables(raw, clinic_id), raw, clinic_id, int(seed), t0, t1)


def truth_at(
    sim: Simulation,
    as_of: str | date | pd.Timestamp,
    horizon_days: int = 90,
    attribution_days: int = 14,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulator's true probabilities at the end of day ``as_of``.

    Returns:
        ``returns``: ``as_of, patient_id, p_return`` for every patient registered by
        ``as_of`` - P(completed visit on a day in as_of+1 .. as_of+horizon) if nobody
        contacts them from now on (outreach already sent still acts).
        ``channels``: ``as_of, patient_id, channel, p_book`` for each channel whose consent
        column is true - P(booking on days as_of+1 .. as_of+attribution) if contacted once on
        that channel on the morning after ``as_of``.
    """
    raw = sim.raw
    if attribution_days != raw.cfg.attribution_days:
        raise ValueError(f"the simulator's attribution window is {raw.cfg.attribution_days} days")
    if not 1 <= horizon_days <= 730:
        raise ValueError("horizon_days must be between 1 and 730")
    day = raw.calendar.day_of(as_of)
    if not 0 <= day <= raw.end_day:
        raise ValueError("as_of must lie within the simulated period")
    state = state_at(raw, day)
    n = len(state.engaged)
    p_ret, p_ch = np.zeros(n), np.zeros((n, 4))
    for sl in chunks(n):
        part = state.take(sl)
        engaged = np.arange(sl.start, sl.stop)[part.engaged]  # the churned cannot return
        p_ret[engaged] = p_return(raw, state.take(engaged), engaged, int(horizon_days))
        p_ch[sl] = p_book_channels(raw, part, sl)
    ts = raw.calendar.start + pd.Timedelta(days=day)
    pid = patient_ids(raw)[:n]
    returns = pd.DataFrame({"as_of": ts, "patient_id": pid, "p_return": p_ret})
    consent = sim.tables.patients[[f"consent_{c}" for c in CHANNELS]].to_numpy(
        dtype=bool, na_value=False)[:n]
    rows, cols = np.nonzero(consent)
    channels = pd.DataFrame({
        "as_of": ts,
        "patient_id": pid[rows],
        "channel": np.asarray(CHANNELS, dtype=object)[cols],
        "p_book": p_ch[rows, cols],
    })
    return returns, channels


def campaign_members(
    sim: Simulation, campaign_id: str, seed: int, holdout_share: float = 0.1,
    limit: int | None = None,
) -> pd.DataFrame:
    """Members of a new campaign on the lapsed patients of the export, randomised to arms
    and assigned the morning after the export (``campaign_draw.draw_members``)."""
    return draw_members(sim.raw, sim.tables, campaign_id, seed, holdout_share, limit)


def play_campaign(
    sim: Simulation, members: pd.DataFrame, seed: int, config: PlayConfig | None = None
) -> pd.DataFrame:
    """What happens after the campaign starts, as outcome events (``campaign_play``)."""
    return _play_campaign(sim.raw, members, seed, config)


def campaign_effect(
    sim: Simulation, members: pd.DataFrame, window_days: int = 14, seed: int = 0,
    replications: int = 200, config: PlayConfig | None = None,
) -> dict[str, float]:
    """The true expected extra bookings of the campaign (``campaign_play.true_effect``)."""
    return true_effect(sim.raw, members, window_days, seed, replications, config)
