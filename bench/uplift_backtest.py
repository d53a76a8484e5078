"""Uplift learners compared on the demo clinic: held-out campaigns and the simulator's truth.

Run: ``.venv/bin/python bench/uplift_backtest.py [--patients 20000] [--seed 42]``.
Writes ``bench/results/uplift.json``. Each learner is fitted on the data known at the
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
from features.pipeline.events import prepare
from features.simulator import simulate, truth_at
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


def main() -> None:
    """Compare the learners, time scoring, write the results file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--score-rows", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    settings = Settings()
    sim = simulate(args.patients, args.seed)
    tables = sim.tables
    T = pd.Timestamp(tables.export_date).normalize()
    split = split_as_ofs(tables, T, settings)
    val = split.validation[0]
    truth = Truth(*truth_at(sim, val, settings.horizon_days))
    prepared = prepare(tables)
    rows = build_training_rows(tables, [*split.train, *split.calibration, *split.validation],
                               settings, prepared)
    part = {n: rows.loc[rows["as_of"].isin(getattr(split, n))].reset_index(drop=True)
            for n in ("train", "calibration", "validation")}
    model = fit_return_model(part["train"], part["calibration"], settings)
    p_val = model.predict(part["validation"])
    contacts = build_contact_rows(tables, prepared, val, settings)
    channel = fit_channel_model(contacts, model.features, model.levels, settings)
    history = pd.concat([part["train"], part["calibration"]], ignore_index=True)
    out: dict[str, object] = {"patients": args.patients, "seed": args.seed,
                              "validation_as_of": str(val.date()), "learners": {}}
    for kind in ("pull_forward", "t_learner", "dr_learner", "structured"):
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
    result = train(tables, T, settings, truth=truth)
    frame = add_context(build(tables, T, settings), tables, T, settings.horizon_days)
    frame = frame.loc[frame["visits_lifetime"] > 0]
    rng = np.random.default_rng(args.seed)
    big = frame.iloc[rng.integers(0, len(frame), size=args.score_rows)]
    big.index = pd.Index([f"B{i:08d}" for i in range(len(big))], name="patient_id")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        score_features(big, result.bundle, settings)
        times.append(time.perf_counter() - t)
    out["scoring"] = {"rows": args.score_rows, "best_seconds": round(min(times), 3),
                      "patients_per_second": round(args.score_rows / min(times)),
                      "target_patients_per_second": 150_000,
                      "uplift_summary": result.bundle.uplift_summary()}
    print(out["scoring"])
    args.out.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
