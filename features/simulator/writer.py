"""``write_demo``: the demo clinic on disk, with its ground truth beside it."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pandas as pd

from features.simulator.api import Simulation, simulate, truth_at
from features.simulator.export import write_csvs
from features.simulator.params import SimConfig
from features.simulator.rates import campaign_frame, marginal_rates


def default_truth_dates(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """``end`` and every 30 days back from it for 720 days (never before ``start``)."""
    dates = [end - pd.Timedelta(days=30 * k) for k in range(25)]
    return sorted(d for d in dates if d >= start)


def write_demo(
    out_dir: str | Path,
    n_patients: int,
    seed: int,
    start: str | date = "2021-01-01",
    end: str | date = "2026-10-31",
    truth_as_of: list | None = None,
    horizon_days: int = 90,
    *,
    clinic_id: str = "demo",
    config: SimConfig | None = None,
) -> Simulation:
    """Simulate and write ``patients.csv``, ``visits.csv``, ``contacts.csv`` and ``truth/``.

    ``truth/returns.parquet`` (``as_of, patient_id, p_return``) and
    ``truth/channels.parquet`` (``as_of, patient_id, channel, p_book``) hold one block per
    truth date; ``truth/campaigns.parquet`` the latent campaign membership with the holdout
    flag; ``truth/meta.json`` the seed, size, dates, horizon and measured rates.
    """
    out = Path(out_dir)
    sim = simulate(n_patients, seed, start, end, clinic_id, config=config)
    write_csvs(sim.tables, out)
    dates = ([pd.Timestamp(d).normalize() for d in truth_as_of] if truth_as_of
             else default_truth_dates(sim.start, sim.end))
    frames = [truth_at(sim, d, horizon_days) for d in dates]
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pd.concat([f[0] for f in frames], ignore_index=True).to_parquet(
        truth / "returns.parquet", index=False)
    pd.concat([f[1] for f in frames], ignore_index=True).to_parquet(
        truth / "channels.parquet", index=False)
    campaign_frame(sim).to_parquet(truth / "campaigns.parquet", index=False)
    meta = {
        "seed": sim.seed, "n_patients": int(n_patients), "clinic_id": clinic_id,
        "clinics": {clinic_id: sim.config.practice},
        "start": sim.start.date().isoformat(), "end": sim.end.date().isoformat(),
        "export_date": sim.tables.export_date.isoformat(),
        "truth_as_of": [d.date().isoformat() for d in dates],
        "horizon_days": int(horizon_days), "attribution_days": sim.config.attribution_days,
        "rates": marginal_rates(sim),
        "config": dataclasses.asdict(sim.config),
    }
    (truth / "meta.json").write_text(json.dumps(meta, indent=2, default=float))
    return sim
