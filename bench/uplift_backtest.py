"""Uplift learners compared on the demo clinic: held-out campaigns and the simulator's truth.

Run: ``.venv/bin/python bench/uplift_backtest.py [--patients 20000] [--seed 42]
[--clinic demo|second]``. Writes ``bench/results/uplift.json`` (``uplift_second.json`` for
the second clinic).

``--clinic second`` judges the learners on a clinic they were not designed on
(:func:`second_clinic`): another seed (7), another practice type (dental: six-month recalls,
lapsed from 240 days), other response rates by channel and age, follow-up fatigue, a channel
each of 15 % of patients never answers, and a 20 % holdout. Each learner is fitted on the data known at the
validation as-of date (the same cut as the channel model) and judged on every eligible
patient at that date against the truth (extra bookings of the top 1,000, Qini), and on the
campaigns launched after it (realised Qini). Also times scoring with uplift on 200,000 rows.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features import build
from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import prepare
from features.simulator import SimConfig, simulate, truth_at
from features.simulator.practices import practice_config
from training.channel_model import fit_channel_model
from training.contact_rows import build_contact_rows
from training.context import add_context
from training.evaluation import Truth
from training.fit import train
from training.return_model import fit_return_model
from training.scoring import score_features
from training.training_snapshots import build_training_rows, split_as_ofs
from training.uplift.training_step import uplift_step

RESULTS = Path(__file__).parent / "results" / "uplift.json"
SECOND_SEED = 7
LEARNER_KINDS = ("pull_forward", "t_learner", "dr_learner", "structured")


def second_clinic() -> SimConfig:
    """The second clinic's parameters: a dental practice whose patients answer differently.

    Chosen to break what the demo makes easy: response shares and age slopes of their own,
    earlier unanswered attempts wearing the next one down (``fatigue_*``) and a deaf channel
    (a patient who answers texts may never pick up the phone).
    """
    return practice_config("dental", response_base=(0.09, 0.10, 0.18, 0.06),
                           response_age_slope=(-0.25, -0.1, 0.2, 0.25), fatigue_same=0.8,
                           fatigue_other=0.9, deaf_channel_share=0.15, campaign_holdout=0.2)


def fit_base_models(tables: Tables, T: pd.Timestamp, settings: Settings) -> tuple:  # noqa: N803
    """What the uplift learners stand on, fitted as ``reactivate train`` does: the validation
    date, the prepared events, the snapshot rows per part, the return and channel models, the
    contact rows and the training history (train + calibration rows)."""
    split = split_as_ofs(tables, T, settings)
    val = split.validation[0]
    prepared = prepare(tables)
    rows = build_training_rows(tables, [*split.train, *split.calibration, *split.validation],
                               settings, prepared)
    part = {n: rows.loc[rows["as_of"].isin(getattr(split, n))].reset_index(drop=True)
            for n in ("train", "calibration", "validation")}
    model = fit_return_model(part["train"], part["calibration"], settings)
    contacts = build_contact_rows(tables, prepared, val, settings)
    channel = fit_channel_model(contacts, model.features, model.levels, settings)
    history = pd.concat([part["train"], part["calibration"]], ignore_index=True)
    return val, prepared, part, model, contacts, channel, history


def main() -> None:
    """Compare the learners, time scoring, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=None,
                    help=f"simulator seed (default 42; {SECOND_SEED} for the second clinic)")
    ap.add_argument("--clinic", choices=("demo", "second"), default="demo")
    ap.add_argument("--score-rows", type=int, default=200_000,
                    help="rows of the scoring timing (0: skip it)")
    ap.add_argument("--learners", default=",".join(LEARNER_KINDS),
                    help="comma-separated learners to compare (default: all)")
    ap.add_argument("--tilt", choices=("channel_model", "response", "reaction"), default=None,
                    help="the pull-forward learner's channel tilt (default: the setting's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    second = args.clinic == "second"
    args.seed = args.seed if args.seed is not None else (SECOND_SEED if second else 42)
    args.out = args.out or (RESULTS.with_name("uplift_second.json") if second else RESULTS)
    settings = Settings()
    if args.tilt:
        settings = settings.model_copy(update={"training": settings.training.model_copy(
            update={"uplift_tilt": args.tilt})})
    sim = simulate(args.patients, args.seed, config=second_clinic() if second else None)
    tables = sim.tables
    T = pd.Timestamp(tables.export_date).normalize()
    val, prepared, part, model, contacts, channel, history = fit_base_models(tables, T, settings)
    truth = Truth(*truth_at(sim, val, settings.horizon_days))
    p_val = model.predict(part["validation"])
    out: dict[str, object] = {"clinic": args.clinic, "patients": args.patients, "seed": args.seed,
                              "uplift_tilt": settings.training.uplift_tilt,
                              "validation_as_of": str(val.date()), "learners": {}}
    for kind in args.learners.split(","):
        s = settings.model_copy(update={"training": settings.training.model_copy(
            update={"uplift_learner": kind})})
        t0 = time.perf_counter()
        _, report = uplift_step(tables, prepared, history, contacts, val, T, model, channel,
                                part["validation"], p_val, truth, s)
        report["fit_seconds"] = round(time.perf_counter() - t0, 1)
        out["learners"][kind] = report
        o = report["oracle"]["rankings"]
        print(kind, {k: round(v["extra_bookings"], 1) for k, v in o.items()},
              {k: round(v["qini_normalised"], 3) for k, v in o.items()})
    if args.score_rows:
        out["scoring"] = _scoring(tables, T, truth, settings, args.score_rows, args.seed)
        print(out["scoring"])
    args.out.write_text(json.dumps(out, indent=2, default=str))


def _scoring(tables: Tables, T: pd.Timestamp, truth: Truth, settings: Settings,  # noqa: N803
             n_rows: int, seed: int) -> dict[str, object]:
    """Time ``score_features`` with uplift on ``n_rows`` resampled patients (best of 3)."""
    result = train(tables, T, settings, truth=truth)
    frame = add_context(build(tables, T, settings), tables, T, settings.horizon_days)
    frame = frame.loc[frame["visits_lifetime"] > 0]
    rng = np.random.default_rng(seed)
    big = frame.iloc[rng.integers(0, len(frame), size=n_rows)]
    big.index = pd.Index([f"B{i:08d}" for i in range(len(big))], name="patient_id")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        score_features(big, result.bundle, settings)
        times.append(time.perf_counter() - t)
    return {"rows": n_rows, "best_seconds": round(min(times), 3),
            "patients_per_second": round(n_rows / min(times)),
            "target_patients_per_second": 150_000,
            "uplift_summary": result.bundle.uplift_summary()}


if __name__ == "__main__":
    main()
