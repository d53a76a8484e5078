"""``write_group_demo``: the mixed demo group on disk, with every clinic's ground truth."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pandas as pd

from features.simulator.api import truth_at
from features.simulator.export import write_csvs
from features.simulator.group import group_tables, practice_of, prefixed, simulate_clinics
from features.simulator.rates import campaign_frame, marginal_rates
from features.simulator.truth_files import CLINICS_KEY, META_FILE
from features.simulator.writer import default_truth_dates


def write_group_demo(
    out_dir: str | Path,
    clinics: dict[str, int],
    seed: int,
    start: str | date = "2021-01-01",
    end: str | date = "2026-10-31",
    truth_as_of: list | None = None,
    horizon_days: int = 90,
    *,
    practices: dict[str, str] | None = None,
) -> dict:
    """Simulate the clinics and write one export (``patients.csv``, ``visits.csv``,
    ``contacts.csv``) and ``truth/`` covering all of them, as ``write_demo`` does for one.

    ``truth/meta.json`` lists each clinic's practice type under ``clinics`` (a clinic-level
    attribute the backtest groups by) with its size, seed and measured rates.

    Returns:
        The meta dict written.
    """
    out = Path(out_dir)
    sims = simulate_clinics(clinics, seed, start, end, practices=practices)
    tables = group_tables(sims)
    write_csvs(tables, out)
    first = next(iter(sims.values()))
    dates = ([pd.Timestamp(d).normalize() for d in truth_as_of] if truth_as_of
             else default_truth_dates(first.start, first.end))
    returns, channels, campaigns = [], [], []
    for clinic, sim in sims.items():
        for d in dates:
            r, c = truth_at(sim, d, horizon_days)
            returns.append(r.assign(patient_id=prefixed(clinic, r["patient_id"])))
            channels.append(c.assign(patient_id=prefixed(clinic, c["patient_id"])))
        camp = campaign_frame(sim)
        campaigns.append(camp.assign(patient_id=prefixed(clinic, camp["patient_id"]),
                                     campaign_id=prefixed(clinic, camp["campaign_id"])))
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pd.concat(returns, ignore_index=True).to_parquet(truth / "returns.parquet", index=False)
    pd.concat(channels, ignore_index=True).to_parquet(truth / "channels.parquet", index=False)
    pd.concat(campaigns, ignore_index=True).to_parquet(truth / "campaigns.parquet", index=False)
    kinds = {c: (practices or {}).get(c, practice_of(c)) for c in clinics}
    meta = {
        "seed": int(seed), "n_patients": int(sum(clinics.values())),
        "start": first.start.date().isoformat(), "end": first.end.date().isoformat(),
        "export_date": tables.export_date.isoformat(),
        "truth_as_of": [d.date().isoformat() for d in dates],
        "horizon_days": int(horizon_days), "attribution_days": first.config.attribution_days,
        CLINICS_KEY: kinds,
        "per_clinic": {c: {"practice": kinds[c], "n_patients": int(clinics[c]),
                           "seed": int(s.seed), "rates": marginal_rates(s),
                           "config": dataclasses.asdict(s.config)}
                       for c, s in sims.items()},
    }
    (truth / META_FILE).write_text(json.dumps(meta, indent=2, default=float))
    return meta | {"tables": tables}
