"""Where the uplift ranking's top 1,000 loses against the oracle, and what would close it.

Run: ``.venv/bin/python bench/uplift_diagnosis.py [--clinic demo|second]``. Writes
``bench/results/uplift_diagnosis[_second].json``.

Fits the default pull-forward learner exactly as ``bench/uplift_backtest.py`` does, then
reads the simulator's latent state at the validation date (engagement, each patient's
responsiveness and deaf channel) to answer three questions, each as the share of the
oracle's true extra bookings among the top 1,000 eligible patients:

- who the oracle picks that the model misses (means of the latent and observed traits);
- which part of the true reaction chance matters (the tilt replaced by the truth, the truth
  without the deaf channel, without the patient's own responsiveness, and with the
  responsiveness as well as any estimate from the model's inputs could predict it: a
  LightGBM fitted *on the truth*, 2-fold cross-fit - a ceiling, not a method);
- whether the effect is a product (``g x r``) or also has a part for patients who do not
  react (``g x (r + lambda)``), with the learner's own reaction model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.config import Settings
from features.simulator import SimConfig, simulate, truth_at
from features.simulator.export import patient_ids
from features.simulator.hazards import response_prob
from features.simulator.truth import state_at
from features.vocabulary import CHANNELS, NO_CONTACT
from training.channel_choice import reachable_channels
from training.uplift.model import fit_uplift, model_matrix
from training.uplift.rows import known_by, member_rows

try:  # run as a script from the repository root
    from uplift_backtest import SECOND_SEED, fit_base_models, second_clinic
except ImportError:  # imported as bench.uplift_diagnosis
    from bench.uplift_backtest import SECOND_SEED, fit_base_models, second_clinic

RESULTS = Path(__file__).parent / "results" / "uplift_diagnosis.json"
K = 1000


def main() -> None:
    """Fit, compare against the latent truth, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clinic", choices=("demo", "second"), default="demo")
    ap.add_argument("--patients", type=int, default=20_000)
    args = ap.parse_args()
    second = args.clinic == "second"
    cfg = second_clinic() if second else SimConfig()
    settings = Settings()
    sim = simulate(args.patients, SECOND_SEED if second else 42, config=cfg)
    tables = sim.tables
    T = pd.Timestamp(tables.export_date).normalize()  # noqa: N806
    val, prepared, part, model, contacts, channel, history = fit_base_models(tables, T, settings)
    members = known_by(member_rows(tables, prepared, T, settings), val)
    uplift, _ = fit_uplift(tables, prepared, history, contacts, val, model, settings, channel,
                           members)
    learner = uplift.learner

    v = part["validation"]
    allowed = reachable_channels(v, settings)
    eligible = allowed.any(axis=1) & ~v["do_not_contact"].astype("boolean").fillna(False) \
        .to_numpy(bool)
    v, allowed = v.loc[eligible].reset_index(drop=True), allowed[eligible]
    x = model_matrix(v, model)
    g = learner.pull(x)
    tau = learner.predict(x, response=channel.predict_matrix(x, model.features).to_numpy())
    _, truth = truth_at(sim, val, settings.horizon_days)
    t = truth.pivot(index="patient_id", columns="channel", values="p_book").reindex(v["patient_id"])
    none = t[NO_CONTACT].to_numpy()
    effect = np.where(allowed, t[list(CHANNELS)].to_numpy() - none[:, None], np.nan)
    best = np.nanmax(np.where(allowed, effect, -np.inf), axis=1)
    oracle = float(np.sort(best)[::-1][:K].sum())
    held = v["has_booked_appointment"].astype(float).to_numpy() > 0.5

    def share(scores: np.ndarray) -> float:
        scores = np.where(held[:, None], 0.0, scores)
        s = np.where(allowed, scores, -np.inf)
        gain = np.nan_to_num(effect[np.arange(len(s)), np.argmax(s, axis=1)])
        return round(100 * float(gain[np.argsort(-s.max(axis=1), kind="stable")[:K]].sum())
                     / oracle, 1)

    raw = sim.raw
    state = state_at(raw, raw.calendar.day_of(val))
    number = pd.Index(patient_ids(raw)[:len(state.engaged)]).get_indexer(v["patient_id"])
    engaged, reason = state.engaged[number], state.reason[number]
    age, resp, deaf = (raw.pop.age[number], raw.pop.responsiveness[number],
                       raw.pop.deaf[number])

    def true_r(responsiveness: np.ndarray, deaf_channel: np.ndarray) -> np.ndarray:
        return np.stack([response_prob(c, age, responsiveness, engaged, reason, cfg,
                                       deaf_channel) for c in range(len(CHANNELS))], axis=1)

    ceiling, r2 = _feature_ceiling(x, model.features, np.log(resp))
    nobody_deaf = np.full_like(deaf, -1)
    r_hat = learner.reaction_.predict(x) if getattr(learner, "reaction_", None) else None
    out: dict[str, object] = {
        "clinic": args.clinic, "validation_as_of": str(val.date()), "eligible": len(v),
        "k": K, "oracle_extra_bookings": round(oracle, 1), "model_share": share(tau),
        "who_is_missed": _profile(v, best, tau, allowed, engaged, resp, none),
        "tilt_by_true_reaction_chance": {
            "true": share(g[:, None] * true_r(resp, deaf)),
            "true_without_deaf_channel": share(g[:, None] * true_r(resp, nobody_deaf)),
            "true_without_own_responsiveness": share(g[:, None] * true_r(np.ones_like(resp),
                                                                         deaf)),
            "true_with_responsiveness_predicted_from_features": share(
                g[:, None] * true_r(np.exp(ceiling), deaf)),
            "r2_of_log_responsiveness_from_features": r2,
            "true_with_true_engagement_for_g": share(
                (engaged * (1 - none))[:, None] * true_r(resp, deaf)),
        },
    }
    if r_hat is not None:
        out["reaction_model_product_vs_additive"] = {
            f"lambda_{lam}": share(g[:, None] * (r_hat + lam)) for lam in (0.0, 0.03, 0.11)}
        m = engaged & (deaf < 0)
        truth_r = true_r(resp, deaf)
        out["log_correlation_with_true_reaction_chance"] = {
            ch: round(float(np.corrcoef(np.log(truth_r[m, c]), np.log(r_hat[m, c]))[0, 1]), 3)
            for c, ch in enumerate(CHANNELS)}
    print(json.dumps(out, indent=1))
    path = RESULTS.with_name("uplift_diagnosis_second.json") if second else RESULTS
    path.write_text(json.dumps(out, indent=2))


def _feature_ceiling(x: np.ndarray, features: list[str], target: np.ndarray
                     ) -> tuple[np.ndarray, float]:
    """Log responsiveness predicted from the model inputs by a booster fitted on the truth
    (2-fold cross-fit): how much of it the features hold at best."""
    fold = np.arange(len(target)) % 2
    pred = np.zeros(len(target))
    params = {"objective": "regression", "learning_rate": 0.05, "num_leaves": 15,
              "min_data_in_leaf": 50, "verbose": -1, "num_threads": 2, "seed": 0,
              "deterministic": True, "force_row_wise": True}
    for f in (0, 1):
        booster = lgb.train(params, lgb.Dataset(x[fold != f], target[fold != f],
                                                feature_name=features), 300)
        pred[fold == f] = booster.predict(x[fold == f])
    return pred, round(float(1 - np.var(target - pred) / np.var(target)), 3)


def _profile(v: pd.DataFrame, best: np.ndarray, tau: np.ndarray, allowed: np.ndarray,
             engaged: np.ndarray, resp: np.ndarray, none: np.ndarray) -> dict[str, dict]:
    """Mean traits of the oracle's picks the model misses, and of the model's own misses."""
    score = np.nanmax(np.where(allowed, tau, -np.inf), axis=1)
    in_oracle = np.isin(np.arange(len(v)), np.argsort(-best)[:K])
    in_model = np.isin(np.arange(len(v)), np.argsort(-score)[:K])
    sent = v[[f"{c}_sent" for c in CHANNELS]].sum(axis=1).to_numpy(float)
    traits = pd.DataFrame({"engaged": engaged.astype(float), "responsiveness": resp,
                           "p_book_no_contact": none, "past_contacts": sent,
                           "days_since_last_visit": v["days_since_last_visit"].to_numpy(float),
                           "holds_booking": v["has_booked_appointment"].astype(float).to_numpy()})
    groups = {"oracle_only": in_oracle & ~in_model, "model_only": in_model & ~in_oracle,
              "both": in_oracle & in_model}
    return {name: {k: round(float(val), 3) for k, val in traits.loc[rows].mean().items()}
            | {"patients": int(rows.sum())} for name, rows in groups.items()}


if __name__ == "__main__":
    main()
