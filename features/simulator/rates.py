"""Measured marginal rates of a simulated clinic (what ``docs/simulator.md`` quotes).

Everything is measured on the export itself except where the name says ``latent``
(engagement, holdout membership), which only the simulator knows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.simulator.export import campaign_names, patient_ids
from features.vocabulary import CANCELLED, COMPLETED, NO_SHOW, SCHEDULED

if TYPE_CHECKING:
    from features.simulator.api import Simulation

_DAY = pd.Timedelta(days=1)


def _next_booking(events: pd.DataFrame, at: str, visits: pd.DataFrame) -> pd.Series:
    """For each row of ``events``: the first ``booked_at`` of its patient strictly after ``at``."""
    left = events[["patient_id", at]].reset_index().sort_values(at)
    right = visits[["patient_id", "booked_at"]].sort_values("booked_at")
    merged = pd.merge_asof(left, right, left_on=at, right_on="booked_at", by="patient_id",
                           direction="forward", allow_exact_matches=False)
    return merged.set_index("index")["booked_at"].reindex(events.index)


def campaign_frame(sim: Simulation) -> pd.DataFrame:
    """Latent campaign membership: ``patient_id, campaign_id, launched_at, holdout``."""
    raw = sim.raw
    m = raw.members
    launch = raw.calendar.start + pd.to_timedelta(raw.campaigns[m["campaign"]], unit="D")
    return pd.DataFrame({
        "patient_id": patient_ids(raw)[m["patient"]],
        "campaign_id": campaign_names(raw)[m["campaign"]],
        "launched_at": launch,
        "holdout": m["holdout"],
    })


def marginal_rates(sim: Simulation) -> dict[str, float | dict[str, float]]:
    """The headline rates of a simulation.

    Returns a dict: counts per patient, no-show and cancellation rates (of resolved
    appointments), five-year retention (first-year cohort still completing visits in the
    export's last year; and its latent twin), per-channel response and opt-out rates, per
    contact conversion (booking within the attribution window), campaign booking within 60
    days of launch for contacted vs holdout members, mean revenue per completed visit per
    service, summer-month visit volume relative to the rest.
    """
    t = sim.tables
    v, c, p = t.visits, t.contacts, t.patients
    resolved = v[v["status"] != SCHEDULED]
    status = resolved["status"].value_counts(normalize=True)
    done = resolved[resolved["status"] == COMPLETED]
    export = t.export_date.normalize()
    cohort = p[(p["created_at"] >= sim.start) & (p["created_at"] < sim.start + 365 * _DAY)]
    seen = cohort["patient_id"].isin(done["patient_id"])
    recent = done.loc[done["visit_at"] >= export - 365 * _DAY, "patient_id"]
    cohort_ids = cohort.loc[seen, "patient_id"]
    idx = cohort.index[seen].to_numpy()
    conv = _next_booking(c, "sent_at", v)
    converted = (conv - c["sent_at"]) <= sim.raw.cfg.attribution_days * _DAY
    members = campaign_frame(sim)
    nxt = _next_booking(members, "launched_at", v)
    booked60 = (nxt - members["launched_at"]) <= 60 * _DAY
    month = done["visit_at"].dt.month
    summer = month.isin([7, 8]).mean() / (2 / 12)
    return {
        "patients": float(len(p)),
        "visits_per_patient": len(v) / len(p),
        "completed_per_patient": len(done) / len(p),
        "contacts_per_patient": len(c) / len(p),
        "no_show_rate": float(status.get(NO_SHOW, 0.0)),
        "cancel_rate": float(status.get(CANCELLED, 0.0)),
        "scheduled_after_export": float((v["status"] == SCHEDULED).sum()),
        "five_year_retention": float(cohort_ids.isin(recent).mean()) if len(idx) else np.nan,
        "five_year_retention_latent": float(sim.raw.engaged_end[idx].mean()) if len(idx)
        else np.nan,
        "engaged_at_end_latent": float(sim.raw.engaged_end.mean()),
        "response_rate": c.groupby("channel")["responded_at"].apply(
            lambda s: s.notna().mean()).to_dict(),
        "opt_out_rate": c.groupby("channel")["opted_out"].mean().astype(float).to_dict(),
        "contact_conversion": c.assign(conv=converted).groupby("channel")["conv"].mean()
        .to_dict(),
        "campaign_booked_60d_contacted": float(booked60[~members["holdout"]].mean()),
        "campaign_booked_60d_holdout": float(booked60[members["holdout"]].mean()),
        "revenue_per_completed_visit": done.groupby("service")["revenue"].mean().round(2)
        .to_dict(),
        "summer_volume_ratio": float(summer),
    }


#: Where the default demo's rates must fall (``docs/simulator.md``; tested).
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "visits_per_patient": (5.0, 12.0),
    "contacts_per_patient": (2.0, 7.0),
    "no_show_rate": (0.05, 0.10),
    "cancel_rate": (0.05, 0.10),
    "five_year_retention": (0.25, 0.50),
    "summer_volume_ratio": (0.80, 0.98),
    "response_rate.sms": (0.04, 0.12),
    "response_rate.email": (0.02, 0.07),
    "response_rate.phone": (0.06, 0.15),
    "response_rate.mail": (0.01, 0.04),
    "opt_out_rate.sms": (0.005, 0.03),
}


def flat(rates: dict[str, float | dict[str, float]]) -> dict[str, float]:
    """``{"response_rate": {channel: x}}`` -> ``{"response_rate.<channel>": x}``."""
    out: dict[str, float] = {}
    for key, value in rates.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": float(v) for k, v in value.items()})
        else:
            out[key] = float(value)
    return out
