"""The report's patient tables from a scored snapshot: segments, channel mix, who to contact.

Who to contact goes through exactly the service's path (``serving.targeting.index``,
``serving.targeting.ranking``, ``serving.targeting.reasons``), so the page never lists a patient the contact
policy blocks, and its reasons read like the API's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, SEGMENTS, WIN_BACK_SEGMENTS
from serving.targeting import ranking
from serving.targeting.index import build_index
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


def top_contacts(snapshot: pd.DataFrame, bundle: object, settings: Settings,
                 limit: int) -> pd.DataFrame:
    """The ``limit`` lapsed patients most likely to return, over every clinic of the snapshot.

    Lapsing, inactive and dormant patients only (active ones come back anyway, lost ones
    rarely do), after the contact policy, best first by return probability; the channel is
    the best one the policy permits; reasons come from the model's SHAP contributions.

    Returns:
        ``patient_id``, ``clinic_id``, ``segment``, ``channel``, ``return_probability``,
        ``expected_value``, ``days_since_last_visit``, ``reasons`` (one sentence).
    """
    index = build_index(snapshot, settings)
    filters = ranking.RankFilters(segments=WIN_BACK_SEGMENTS)
    parts = []
    for clinic_id in sorted(index.clinics):
        selection = ranking.rank_patients(index, clinic_id, filters, limit)
        if not len(selection.rows):
            continue
        records = pd.DataFrame(ranking.patient_records(index, selection, settings))
        parts.append(records.assign(clinic_id=clinic_id, row=selection.rows))
    columns = ["patient_id", "clinic_id", "segment", "channel", "return_probability",
               "expected_value", "days_since_last_visit", "reasons"]
    if not parts:
        return pd.DataFrame(columns=columns)
    top = (pd.concat(parts, ignore_index=True)
           .sort_values("return_probability", ascending=False, kind="stable").head(limit))
    rows = top["row"].to_numpy(dtype=np.int64)
    context = index.frame.iloc[rows]
    contributions = bundle.explain(context).drop(columns="bias")
    reasons = top_reasons(contributions.to_numpy(), list(contributions.columns), context,
                          MAX_REASONS)
    sentences = ["; ".join(r["text"] for r in patient) or "likely to return" for patient in reasons]
    top = top.assign(reasons=sentences, channel=top["best_channel"])
    return top[columns].reset_index(drop=True)
