"""Backtest of the uplift model: held-out campaigns (realised) and, on the demo, the oracle.

Why two views: realised Qini on the clinic's own held-out campaigns is what any clinic can
measure, but its holdouts are small and drawn from lapsed patients only; the simulator's
truth scores every eligible patient, which is what the weekly list is drawn from. Both
compare the model with ranking by return probability, by days since the last visit, random
and (truth only) the oracle. Normalisation: ``training.uplift.metrics``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS, NO_CONTACT
from training.uplift.design import CONTROL
from training.uplift.metrics import (
    area,
    extra_bookings,
    qini,
    qini_curve,
    realised_metrics,
    truth_curve,
    truth_uplift_at,
)
from training.uplift.model import INCREMENTAL, PROBABILITY

LIST_SHARE = 0.3  # the share of members a campaign list would contact (ordering decision)


def top_k(n_eligible: int, k: int = 1000, reference: int = 12_306) -> int:
    """k contacts for a clinic of ``n_eligible`` (1,000 per 12,306 eligible, at most all)."""
    scaled = k if n_eligible >= reference else int(round(k * n_eligible / reference))
    return max(1, min(scaled, n_eligible))


def held_out_campaigns(members: pd.DataFrame, uplift: np.ndarray, p_return: np.ndarray,
                       allowed: np.ndarray) -> dict[str, object]:
    """Realised metrics on held-out campaign members, per ranking, and the ordering choice.

    Args:
        members: rows of ``training.uplift.rows.member_rows`` (later than the training data).
        uplift: ``(n, channels)`` model effects; the campaign drew channels at random, so
            members are scored by the mean effect over their allowed channels.
        p_return: return-model probabilities of the same rows.
        allowed: ``(n, channels)`` channels each member allowed.
    """
    treated = members["treatment"].to_numpy() != CONTROL
    y = members["y"].to_numpy().astype(float)
    known = allowed & np.isfinite(uplift)  # a member allowing no channel gets -1 below
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_tau = np.where(known, uplift, 0.0).sum(axis=1) / known.sum(axis=1)
    rng = np.random.default_rng(0)
    scores = {"model": np.nan_to_num(mean_tau, nan=-1.0), "return_probability": p_return,
              "days_since_last_visit": members["days_since_last_visit"].to_numpy(float),
              "random": rng.random(len(y))}
    table = {name: realised_metrics(s, treated, y) for name, s in scores.items()}
    k = max(int(LIST_SHARE * len(y)), 1)
    for name, s in scores.items():  # extra bookings of contacting the top LIST_SHARE
        table[name]["extra_bookings_top_share"] = float(qini_curve(s, treated, y)[k] * len(y))
    model_gain = table["model"]["extra_bookings_top_share"]
    prob_gain = table["return_probability"]["extra_bookings_top_share"]
    ordering = INCREMENTAL if model_gain > prob_gain else PROBABILITY
    why = (f"on {members['campaign_id'].nunique()} held-out campaign(s) ({len(y):,} members, "
           f"{int((~treated).sum()):,} held out), contacting the top {LIST_SHARE:.0%} by uplift "
           f"brought {model_gain:.1f} extra bookings against {prob_gain:.1f} by return "
           f"probability")
    return {"members": int(len(y)), "holdout": int((~treated).sum()), "k": k,
            "campaigns": sorted(members["campaign_id"].unique().tolist()),
            "rankings": table, "ordering": ordering, "ordering_reason": why}


def oracle_table(keys: pd.DataFrame, uplift: np.ndarray, p_channels: np.ndarray | None,
                 p_return: np.ndarray, days_since: np.ndarray, allowed: np.ndarray,
                 truth_channels: pd.DataFrame, k: int | None = None) -> dict[str, object] | None:
    """Extra bookings of the top k eligible patients and Qini against the simulator's truth.

    Each ranking contacts its top k on a channel: the model on its best-uplift allowed
    channel; return probability, days since the last visit and random on the channel
    model's best channel (the cheapest-first order without one); the oracle on the truly
    best. A patient's true effect is ``p_book(channel) - p_book(none)``.

    Args:
        keys: ``as_of``, ``patient_id`` of the eligible rows (one as-of date).
        truth_channels: truth rows (``training.evaluation.Truth.channels``).
    """
    t = truth_channels.merge(keys.reset_index(drop=True).reset_index(),
                             on=["as_of", "patient_id"], how="inner")
    if t.empty or not (t["channel"] == NO_CONTACT).any():
        return None
    n = len(keys)
    none = np.full(n, np.nan)
    rows_none = t.loc[t["channel"] == NO_CONTACT]
    none[rows_none["index"].to_numpy()] = rows_none["p_book"].to_numpy()
    true = np.full((n, len(CHANNELS)), np.nan)
    for j, ch in enumerate(CHANNELS):
        r = t.loc[t["channel"] == ch]
        true[r["index"].to_numpy(), j] = r["p_book"].to_numpy()
    effect = np.where(allowed, true - none[:, None], np.nan)
    ok = ~np.isnan(none) & np.isfinite(effect).any(axis=1)
    if ok.sum() < 10:
        return None
    effect, allowed = effect[ok], allowed[ok]
    pick = _pick(np.where(allowed, uplift[ok], -np.inf))
    fixed = _pick(np.where(allowed, p_channels[ok], -np.inf)) if p_channels is not None \
        else _pick(np.where(allowed, -np.arange(len(CHANNELS))[None, :], -np.inf))
    rows = np.arange(ok.sum())
    best_true = np.nanmax(np.where(allowed, effect, -np.inf), axis=1)
    on_pick, on_fixed = effect[rows, pick], effect[rows, fixed]
    k = top_k(int(ok.sum())) if k is None else k
    rng = np.random.default_rng(0)
    plans = {
        "model": (np.nanmax(np.where(allowed, uplift[ok], -np.inf), axis=1), on_pick),
        "return_probability": (p_return[ok], on_fixed),
        "days_since_last_visit": (days_since[ok], on_fixed),
        "random": (rng.random(int(ok.sum())), on_fixed),
        "oracle": (best_true, best_true),
    }
    table: dict[str, dict[str, float]] = {}
    for name, (score, gain) in plans.items():
        gain = np.nan_to_num(gain, nan=0.0)
        score = np.nan_to_num(score, nan=-np.inf)
        curve = truth_curve(score, gain)
        table[name] = {"extra_bookings": extra_bookings(score, gain, k),
                       "qini": qini(curve), "auuc": area(curve),
                       **truth_uplift_at(score, gain)}
    oracle = table["oracle"]
    for row in table.values():
        row["share_of_oracle"] = row["extra_bookings"] / oracle["extra_bookings"] \
            if oracle["extra_bookings"] > 0 else float("nan")
        row["qini_normalised"] = row["qini"] / oracle["qini"] if oracle["qini"] > 0 \
            else float("nan")
    return {"eligible": int(ok.sum()), "k": int(k), "rankings": table}


def _pick(utility: np.ndarray) -> np.ndarray:
    utility = np.where(np.isnan(utility), -np.inf, utility)
    return np.argmax(utility, axis=1)
