"""The report's patient tables from a scored snapshot: segments, channel mix, who to contact.

Who to contact goes through exactly the service's path (``serving.targeting.index``,
``serving.targeting.ranking``, ``serving.targeting.reasons``), so the page never lists a
patient the contact policy blocks, orders the list as ``/rank`` does by default, and its
reasons read like the API's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, SEGMENTS, WIN_BACK_SEGMENTS
from serving.targeting import ranking
from serving.targeting import wording as w
from serving.targeting.explanations import explanation_basis
from serving.targeting.index import ORDERINGS, build_index
from serving.targeting.kinds import ON_THEIR_OWN, patient_kinds, reason_direction
from serving.targeting.reasons import top_reasons

MAX_REASONS = 2


def _alive(snapshot: pd.DataFrame) -> pd.DataFrame:
    if "deceased" not in snapshot.columns:
        return snapshot
    return snapshot.loc[~snapshot["deceased"].astype("boolean").fillna(False).to_numpy(bool)]


def segment_table(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Patients per segment with their expected returns and revenue (deceased left out).

    Returns:
        One row per segment of ``SEGMENTS`` in order (zeros when empty): ``segment``,
        ``patients``, ``expected_returns`` (sum of return probabilities) and
        ``expected_revenue`` (sum of expected values).
    """
    frame = _alive(snapshot)
    value = pd.to_numeric(frame["expected_value"], errors="coerce").fillna(0.0)
    grouped = frame.assign(expected_value=value).groupby("segment", observed=True).agg(
        patients=("patient_id", "size"),
        expected_returns=("return_probability", "sum"),
        expected_revenue=("expected_value", "sum"),
    )
    out = grouped.reindex(list(SEGMENTS), fill_value=0).rename_axis("segment").reset_index()
    return out.astype({"patients": "int64", "expected_returns": "float64",
                       "expected_revenue": "float64"})


def segment_words(settings: Settings) -> dict[str, str]:
    """Each segment as the calendar fact it is ("4-6 months since the last visit").

    Why facts and not judgements: the segment is a calendar rule on the days since the last
    visit, so calling "lapsing" "a little overdue" would contradict a reason such as "not due
    for another 8 days" for a patient on a six-month rhythm.
    """
    cfg = settings.features.segments
    span = w.duration(pd.Series([cfg.lapsing_days, cfg.inactive_days, cfg.dormant_days,
                                 cfg.lost_days], dtype=float)).tolist()
    return {
        "active": f"last visit under {span[0]} ago",
        "lapsing": f"last visit {span[0]} to {span[1]} ago",
        "inactive": f"last visit {span[1]} to {span[2]} ago",
        "dormant": f"last visit {span[2]} to {span[3]} ago",
        "lost": f"last visit {span[3]} ago or more",
    }


def channel_table(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Patients per segment (rows, ``SEGMENTS`` order) and best channel (columns).

    Columns are the channels, then ``none`` for patients no channel may reach (or without a
    channel model); deceased patients are left out.
    """
    frame = _alive(snapshot)
    channel = frame["best_channel"].astype(object).where(frame["best_channel"].isin(CHANNELS),
                                                         "none")
    table = pd.crosstab(frame["segment"], channel)
    return table.reindex(index=list(SEGMENTS), columns=[*CHANNELS, "none"], fill_value=0)


@dataclass(frozen=True)
class ContactList:
    """This week's list and what it is worth.

    Attributes:
        contacts: the listed patients, best first (see :func:`top_contacts`).
        ordering: the ordering used (``serving.targeting.ranking.resolve_ordering``).
        ordering_reason: why, in words.
        value: with an uplift estimate, ``extra_bookings`` (sum of the listed uplifts),
            ``extra_revenue`` (their uplift x the visit's revenue) and ``net_value`` (the
            sum of incremental values: that revenue minus the channels' cost); else None.
        on_their_own: contactable win-back patients "likely to come back on their own"
            (no message needed), None without an uplift estimate.
        pool: contactable win-back patients the list is drawn from.
    """

    contacts: pd.DataFrame
    ordering: str
    ordering_reason: str
    value: dict[str, float] | None
    on_their_own: int | None
    pool: int


CONTACT_COLUMNS = ["patient_id", "clinic_id", "segment", "segment_words", "kind", "channel",
                   "return_probability", "uplift", "incremental_value", "expected_value",
                   "days_since_last_visit", "reasons"]
NO_STRONG_REASON = "several small things together, none strong on its own"


def top_contacts(snapshot: pd.DataFrame, bundle: object, settings: Settings,
                 limit: int) -> ContactList:
    """The ``limit`` lapsed patients most worth a message, over every clinic of the snapshot.

    Lapsing, inactive and dormant patients only (active ones come back anyway, lost ones
    rarely do), after the contact policy, best first by the bundle's default ordering
    (incremental value when its backtest chose it, else return probability - the same
    rule and words as ``/rank`` without ``rank_by``); the channel is the one the
    service would pick; reasons explain that ordering's score (``serving.targeting``).
    """
    index = build_index(snapshot, settings)
    summary = bundle.uplift_summary()
    ordering, why = ranking.resolve_ordering(index, None, summary["ordering"],
                                             summary["ordering_reason"])
    filters = ranking.RankFilters(segments=WIN_BACK_SEGMENTS)
    parts, pool, on_own = [], 0, 0
    for clinic_id in sorted(index.clinics):
        everyone = ranking.rank_patients(index, clinic_id, filters, index.rows, ordering)
        pool += everyone.total_eligible
        kinds = patient_kinds(index.outputs["uplift"][everyone.rows],
                              index.outputs["return_probability"][everyone.rows], settings)
        on_own += int((kinds == ON_THEIR_OWN).sum())
        selection = replace(everyone, rows=everyone.rows[:limit], ranks=everyone.ranks[:limit])
        if not len(selection.rows):
            continue
        records = pd.DataFrame(ranking.patient_records(index, selection, settings))
        parts.append(records.assign(clinic_id=clinic_id, row=selection.rows))
    if not parts:
        return ContactList(pd.DataFrame(columns=CONTACT_COLUMNS), ordering, why, None,
                           None, pool)
    score = ORDERINGS[ordering]
    top = (pd.concat(parts, ignore_index=True)
           .sort_values(score, ascending=False, kind="stable").head(limit))
    rows = top["row"].to_numpy(dtype=np.int64)
    context = index.frame.iloc[rows]
    basis = explanation_basis(bundle, index, ordering)
    contributions = bundle.contributions(bundle.matrix(context), basis)
    reasons = top_reasons(contributions, list(bundle.features), context, MAX_REASONS,
                          settings.serving.reason_min_effect,
                          reason_direction(top["patient_kind"].tolist(), basis), basis)
    sentences = ["; ".join(r["text"] for r in patient) or NO_STRONG_REASON
                 for patient in reasons]
    words = segment_words(settings)
    top = top.assign(reasons=sentences, channel=top["best_channel"], kind=top["patient_kind"],
                     segment_words=top["segment"].map(words))
    value = None
    if index.has_uplift:
        uplift = top["uplift"].to_numpy(dtype=float)
        revenue = np.nan_to_num(index.revenue[rows])
        value = {"extra_bookings": float(np.nansum(uplift)),
                 "extra_revenue": float(np.nansum(uplift * revenue)),
                 "net_value": float(np.nansum(top["incremental_value"].to_numpy(dtype=float)))}
    return ContactList(top[CONTACT_COLUMNS].reset_index(drop=True), ordering, why, value,
                       on_own if index.has_uplift else None, pool)
