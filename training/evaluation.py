"""Backtest: the model, the clinic's rules and (on the demo clinic) the oracle, side by side.

Why on the validation window only: it lies after every row the model, its calibrator and
the baselines' probability maps learned from, so the table answers "how would this have
done had we used it then". The same rows, labels and metric code serve every row of the
table (``training.metrics``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator.truth_files import Truth
from features.vocabulary import CHANNELS
from training.baselines import RULE_COLUMNS, BGNBDBaseline, RuleBaseline
from training.metrics import score_forecast


def return_table(
    validation: pd.DataFrame,
    calibration: pd.DataFrame,
    model_p: np.ndarray,
    visits: pd.DataFrame,
    horizon_days: int,
    truth: Truth | None = None,
    *,
    forecasts: dict[str, tuple[np.ndarray, np.ndarray | None, dict]] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of the model, each baseline and (when available) the oracle.

    Args:
        validation: validation snapshot rows (``as_of``, ``patient_id``, features, ``label``).
        calibration: calibration rows, where the rule baselines learn their probability map.
        model_p: the model's calibrated probabilities for ``validation``.
        visits: the export's visits (BG/NBD is fitted on the history known at each as-of).
        horizon_days: the label horizon.
        truth: the simulator's truth; the oracle row appears only if it covers every row.
        forecasts: :func:`return_forecasts` of these arguments when the caller already has
            them (training scores the same forecasts per practice type too: BG/NBD is
            fitted on every patient's history at each validation date, tens of seconds at a
            million patients, so it is fitted once).

    Returns:
        ``{forecaster: metrics}`` for ``model``, ``recency``, ``overdue``, ``bgnbd`` and maybe
        ``oracle`` (metrics of ``training.metrics.score_forecast``).
    """
    y = validation["label"].to_numpy()
    if forecasts is None:
        forecasts = return_forecasts(validation, calibration, model_p, visits, horizon_days,
                                     truth)
    return {name: score_forecast(y, p, rank) | extra
            for name, (p, rank, extra) in forecasts.items()}


def return_forecasts(
    validation: pd.DataFrame,
    calibration: pd.DataFrame,
    model_p: np.ndarray,
    visits: pd.DataFrame,
    horizon_days: int,
    truth: Truth | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray | None, dict]]:
    """Each forecaster's probabilities on ``validation`` (arguments of :func:`return_table`).

    Returns:
        ``{forecaster: (probabilities, ranking score or None, extra fields)}``, so a subset of
        the rows (one practice type) is scored with the same forecasts.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray | None, dict]] = {
        "model": (np.asarray(model_p), None, {})}
    for name, column in RULE_COLUMNS.items():
        rule = RuleBaseline(name, column).fit(calibration, calibration["label"].to_numpy())
        p, rank = rule.predict(validation)
        out[name] = (p, rank, {"direction": rule.sign_})
    bg = BGNBDBaseline(horizon_days)
    p_bg = np.empty(len(validation))
    for as_of, rows in validation.groupby("as_of", sort=True).indices.items():
        ids = pd.Index(validation["patient_id"].to_numpy()[rows])
        p_bg[rows] = bg.predict_at(visits, ids, as_of)[0]
    out["bgnbd"] = (p_bg, None, {})
    oracle = _oracle_returns(validation, truth)
    if oracle is not None:
        out["oracle"] = (oracle, None, {})
    return out


def _oracle_returns(validation: pd.DataFrame, truth: Truth | None) -> np.ndarray | None:
    if truth is None:
        return None
    keys = validation[["as_of", "patient_id"]]
    merged = keys.merge(truth.returns, on=["as_of", "patient_id"], how="left")
    p = merged["p_return"].to_numpy(dtype=float)
    return None if np.isnan(p).any() else p


def channel_ranking(contact_rows: pd.DataFrame) -> list[str]:
    """Channels by their booking rate in the training contacts, best first."""
    if contact_rows.empty:
        return list(CHANNELS)
    rates = contact_rows.groupby("channel")["booked"].mean()
    ranked = rates.sort_values(ascending=False, kind="stable").index.tolist()
    return ranked + [c for c in CHANNELS if c not in ranked]


def channel_table(
    validation: pd.DataFrame, model_p: pd.DataFrame | None, ranking: list[str],
    truth: Truth | None,
) -> dict[str, float] | None:
    """Mean true booking probability of the channel each strategy picks (demo clinic only).

    Each patient of the validation rows with truth picks among the channels the truth lists
    (those consented at that date): the model's highest probability; the clinic's best
    channel overall (``ranking``); a random one (its expectation, the mean over the allowed
    channels); the oracle's best. ``gap_closed`` = (model - random) / (oracle - random).

    Returns:
        Dict of those means, ``gap_closed`` and ``patients``; None without truth or model.
    """
    if truth is None or model_p is None:
        return None
    keys = validation[["as_of", "patient_id"]].reset_index(drop=True)
    keys["row"] = np.arange(len(keys))
    t = truth.channels.merge(keys, on=["as_of", "patient_id"], how="inner")
    t = t.loc[t["channel"].isin(CHANNELS)]
    if t.empty:
        return None
    col = pd.Categorical(t["channel"], categories=list(CHANNELS)).codes
    probs = model_p[[f"p_{c}" for c in CHANNELS]].to_numpy()
    t = t.assign(model=probs[t["row"].to_numpy(), col],
                 clinic_rank=t["channel"].map({c: i for i, c in enumerate(ranking)}))
    grouped = t.groupby("row", sort=False)
    pick = {
        "model": t.loc[grouped["model"].idxmax(), "p_book"].mean(),
        "clinic_best": t.loc[grouped["clinic_rank"].idxmin(), "p_book"].mean(),
        "random": grouped["p_book"].mean().mean(),
        "oracle": grouped["p_book"].max().mean(),
    }
    spread = pick["oracle"] - pick["random"]
    pick["gap_closed"] = (pick["model"] - pick["random"]) / spread if spread > 0 else float("nan")
    pick["patients"] = int(grouped.ngroups)
    return {k: float(v) for k, v in pick.items()}


def quality_bars(table: dict[str, dict[str, float]], channels: dict[str, float] | None) -> dict:
    """The issue's quality bars, each with its figures and whether it holds."""
    baselines = {k: v for k, v in table.items() if k in (*RULE_COLUMNS, "bgnbd")}
    best = max(baselines, key=lambda k: baselines[k]["auc"])
    model = table["model"]
    bars: dict[str, object] = {
        "best_baseline": best,
        "auc_plus_0.03": model["auc"] >= baselines[best]["auc"] + 0.03,
        "brier_below_every_baseline": all(model["brier"] < b["brier"] for b in baselines.values()),
        "ece_at_most_0.03": model["ece"] <= 0.03,
    }
    if "oracle" in table:
        gap = table["oracle"]["auc"] - baselines[best]["auc"]
        closed = (model["auc"] - baselines[best]["auc"]) / gap if gap > 0 else float("nan")
        bars["auc_gap_closed"] = closed
        bars["auc_gap_closed_at_least_half"] = bool(closed >= 0.5)
    if channels is not None:
        bars["channel_gap_closed_at_least_half"] = bool(channels["gap_closed"] >= 0.5)
        bars["channel_beats_clinic_best"] = bool(channels["model"] > channels["clinic_best"])
    return bars
