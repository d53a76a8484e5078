"""Benchmark of the training layer: training time on the demo clinic, scoring throughput.

Run: ``.venv/bin/python bench/scoring_bench.py [--patients 20000] [--score-rows 1000000]``.
Writes ``bench/results/training.json``.

* Training: the 20,000-patient demo clinic (seed 7), the full ``training.fit.train`` run
  (snapshots, return model, channel model, baselines, evaluation) - MLflow logging excluded.
* Scoring (features excluded): the demo clinic's feature frame at the export date, resampled
  to 1,000,000 patients, through ``training.scoring.score_features`` (both models, best
  channel, expected value, output frame). Target: >= 200,000 patients per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features import build
from features.config import Settings
from features.simulator import simulate, truth_at
from features.simulator.truth_files import Truth
from training.context import add_context
from training.fit import train
from training.scoring import score_features
from training.training_snapshots import split_as_ofs

RESULTS = Path(__file__).parent / "results" / "training.json"


def main() -> None:
    """Run both measurements and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--score-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    settings = Settings()
    sim = simulate(args.patients, args.seed)
    as_of = pd.Timestamp(sim.tables.export_date).normalize()
    validation = split_as_ofs(sim.tables, as_of, settings).validation[0]
    truth = Truth(*truth_at(sim, validation, settings.horizon_days))
    t0 = time.perf_counter()
    result = train(sim.tables, as_of, settings, truth=truth)
    train_seconds = time.perf_counter() - t0
    print(f"training on {args.patients:,} patients: {train_seconds:.1f} s {result.timings}")

    frame = add_context(build(sim.tables, as_of, settings), sim.tables, as_of,
                        settings.horizon_days)
    frame = frame.loc[frame["visits_lifetime"] > 0]
    rng = np.random.default_rng(args.seed)
    big = frame.iloc[rng.integers(0, len(frame), size=args.score_rows)]
    big.index = pd.Index([f"B{i:08d}" for i in range(len(big))], name="patient_id")
    times, cpu = [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        scored = score_features(big, result.bundle, settings)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    best = min(times)
    rate = len(scored) / best
    print(f"scoring {len(scored):,} patients: best {best:.2f} s = {rate:,.0f} patients/s "
          f"(CPU seconds per run: {', '.join(f'{c:.1f}' for c in cpu)})")

    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_end": [round(v, 2) for v in os.getloadavg()]},
        "training": {
            "patients": args.patients, "seed": args.seed, "seconds": round(train_seconds, 2),
            "steps_seconds": result.timings, "window": result.bundle.window,
            "target_seconds": 120, "meets_target": train_seconds < 120,
        },
        "scoring": {
            "patients": len(scored), "seconds_runs": [round(t, 3) for t in times],
            "cpu_seconds_runs": [round(t, 3) for t in cpu],
            "threads": settings.training.scoring_threads,
            "patients_per_second": round(rate), "target_patients_per_second": 200_000,
            "meets_target": rate >= 200_000,
            "return_trees": result.bundle.return_model.booster.num_trees(),
            "channel_trees": (result.bundle.channel_model.booster.num_trees()
                              if result.bundle.channel_model else 0),
        },
        "evaluation": result.evaluation,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=float))
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
