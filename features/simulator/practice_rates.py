"""Rates that tell the practice types apart, measured on the export, with their ranges.

Why beside ``rates``: the headline rates (no-shows, responses, retention) are shared by every
practice type; what makes a dental recall or a physiotherapy course of care is the rhythm of
the visits - the typical gap, its regularity and the length of a run of visits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from features.simulator.rates import PLAUSIBLE_RANGES, flat, marginal_rates
from features.vocabulary import COMPLETED

if TYPE_CHECKING:
    from features.simulator.api import Simulation

EPISODE_BREAK_DAYS = 60  # a run of visits ends at a longer gap (for the measurement only)


def rhythm_rates(sim: Simulation) -> dict[str, float]:
    """Median gap between completed visit days, median per-patient coefficient of variation
    of the gaps (patients with 3+ gaps), median visits per run (runs end at a gap over
    ``EPISODE_BREAK_DAYS``) and the share of patients with two or more runs."""
    v = sim.tables.visits
    done = v.loc[v["status"] == COMPLETED, ["patient_id", "visit_at"]]
    days = done.assign(day=done["visit_at"].dt.normalize()).drop_duplicates(
        ["patient_id", "day"]).sort_values(["patient_id", "day"])
    gap = days.groupby("patient_id")["day"].diff().dt.days
    per = gap.groupby(days["patient_id"]).agg(["mean", "std", "count"])
    per = per[per["count"] >= 3]
    new_run = gap.isna() | (gap > EPISODE_BREAK_DAYS)
    run = new_run.cumsum()
    runs_per_patient = new_run.groupby(days["patient_id"]).sum()
    return {
        "gap_median_days": float(gap.median()),
        "gap_cv_median": float((per["std"] / per["mean"]).median()),
        "run_visits_median": float(run.value_counts().median()),
        "repeat_run_share": float((runs_per_patient >= 2).mean()),
    }


def practice_rates(sim: Simulation) -> dict[str, float]:
    """The flat headline rates (``rates.marginal_rates``) and the rhythm rates together."""
    return flat(marginal_rates(sim)) | rhythm_rates(sim)


_SHARED = {k: PLAUSIBLE_RANGES[k] for k in (
    "no_show_rate", "cancel_rate", "response_rate.sms", "response_rate.email",
    "response_rate.phone", "response_rate.mail")}

#: Where each practice type's rates must fall on the default window (tested, documented in
#: ``docs/simulator.md``). Aesthetics keeps its original ranges.
PRACTICE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "aesthetics": dict(PLAUSIBLE_RANGES),
    "dental": _SHARED | {
        "visits_per_patient": (5.0, 13.0),
        "five_year_retention": (0.40, 0.70),
        "gap_median_days": (110.0, 200.0),  # six-month recall; perio and fillings pull it in
        "gap_cv_median": (0.0, 0.55),  # regular (restorative visits add the spread)
        "run_visits_median": (1.0, 2.5),  # runs of visits are single recalls ...
        "repeat_run_share": (0.6, 0.95),  # ... repeated
    },
    "physio": _SHARED | {
        "no_show_rate": (0.04, 0.10),
        # patients between courses are engaged, not gone: they answer more often
        "response_rate.sms": (0.06, 0.18),
        "response_rate.phone": (0.08, 0.22),
        "visits_per_patient": (8.0, 22.0),
        "five_year_retention": (0.12, 0.40),
        "gap_median_days": (5.0, 21.0),  # about weekly inside a course
        "run_visits_median": (4.0, 11.0),  # a course of 6-10, often cut short
        "repeat_run_share": (0.3, 0.8),  # new problems come back for some
    },
}


def out_of_range(practice: str, rates: dict[str, float]) -> dict[str, tuple[float, tuple]]:
    """Rates of ``practice`` outside their documented range (empty when all are inside)."""
    return {k: (rates.get(k, np.nan), r) for k, r in PRACTICE_RANGES[practice].items()
            if not r[0] <= rates.get(k, np.nan) <= r[1]}
